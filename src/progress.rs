//! Progress bars on the terminal (one per site, say), and nothing when output is not a terminal or
//! the user asked for quiet: scripts see results, people see progress.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars are drawn on stderr only when it is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Progress {
        let show = !quiet && std::io::stderr().is_terminal();
        Progress { multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())) }
    }

    /// A bar counting `total` steps, labelled `name`.
    pub fn bar(&self, name: &str, total: u64) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(name.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        }
    }
}
