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
        self.add(name, total, "{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
    }

    /// A bar counting `total` bytes (shown as KiB, MiB, …), labelled `name`.
    pub fn bytes(&self, name: &str, total: u64) -> ProgressBar {
        self.add(name, total, "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {msg}")
    }

    fn add(&self, name: &str, total: u64, template: &str) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
                bar.set_prefix(name.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        }
    }
}
