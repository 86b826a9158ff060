#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Die quietly when the reader of our output goes away (`midnet … | head`), as Unix tools do,
    // instead of panicking on a broken pipe.
    // SAFETY: resetting a signal disposition to its default at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = match midnet::cli::main() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("midnet: {e}");
            e.exit_code()
        }
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
