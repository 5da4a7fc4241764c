//! Progress on stderr while the command waits: a spinner, only when stderr is a terminal, so
//! that logs and pipes get plain lines and stdout stays JSON only. While a job is polled it
//! shows the elapsed time, and becomes a bar once Runware reports a `progress` (0 to 100).

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

    /// Changes what the spinner says, with text made at run time (a taskUUID, a count).
    pub fn message_owned(&self, m: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(m);
        }
    }

    /// Shows a polled job's state: a bar at Runware's `progress` when it reports one, else the
    /// spinner with the elapsed time.
    pub fn job_progress(&self, progress: Option<u8>) {
        let Some(bar) = &self.0 else {
            return;
        };
        // A template that fails to parse keeps the current style: progress is a nicety.
        let template = match progress {
            Some(_) => "{spinner} {msg} [{bar:24}] {pos:>3}% ({elapsed})",
            None => "{spinner} {msg} ({elapsed})",
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        if let Some(p) = progress {
            bar.set_length(100);
            bar.set_position(u64::from(p.min(100)));
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
