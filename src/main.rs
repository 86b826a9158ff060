#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = match midnet::cli::main() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("midnet: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
