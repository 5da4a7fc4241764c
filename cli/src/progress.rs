//! Progress on stderr while the command waits: a spinner, only when stderr is a terminal, so
//! that logs and pipes get plain lines and stdout stays JSON only.

use std::io::IsTerminal as _;
use std::time::Duration;

/// A spinner on stderr while waiting, only when stderr is a terminal.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// Starts the spinner when `enabled` and stderr is a terminal; otherwise every method
    /// prints plain lines or nothing.
    pub fn start(enabled: bool) -> Spinner {
        if !enabled || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("waiting for Runware");
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }

    /// Changes what the spinner says it is doing.
    pub fn message(&self, m: &'static str) {
        if let Some(bar) = &self.0 {
            bar.set_message(m);
        }
    }

    /// Prints a line on stderr without garbling the spinner.
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the spinner.
    pub fn stop(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
