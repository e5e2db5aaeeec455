//! Ctrl-C and `SIGTERM` while a command changes the platform.
//!
//! Before anything is applied (planning, building, the confirmation prompt) a signal stops the
//! command at once: nothing was changed, and the kernel releases the apply lock with the process.
//! Once the apply has started, the first signal asks it to stop ([`Interrupt`]): it starts no
//! more steps, lets the running ones finish (an API call in flight ends or is read back, a
//! release being waited for settles), releases the lock and reports what was done and what was
//! not; the second exits at once, leaving the rest to the next apply, which resumes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::printer::Printer;
use crate::exit_status::ExitStatus;
use crate::interrupt::Interrupt;

/// The signal handlers of one command, installed by [`Signals::listen`].
#[derive(Debug, Clone)]
pub struct Signals {
    interrupt: Interrupt,
    applying: Arc<AtomicBool>,
}

impl Signals {
    /// Installs handlers for `SIGINT` and `SIGTERM` for the rest of the process, reporting
    /// through `printer`. Must run on the async runtime.
    pub fn listen(printer: Printer) -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupts = signal(SignalKind::interrupt())?;
        let mut terminates = signal(SignalKind::terminate())?;
        let signals = Signals {
            interrupt: Interrupt::new(),
            applying: Arc::new(AtomicBool::new(false)),
        };
        let heard = signals.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = interrupts.recv() => {}
                    _ = terminates.recv() => {}
                }
                heard.heard(printer);
            }
        });
        Ok(signals)
    }

    /// What the apply checks before starting each step.
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// From now on, a first signal lets the apply stop between steps instead of ending the
    /// process.
    pub fn applying(&self) {
        self.applying.store(true, Ordering::SeqCst);
    }

    fn heard(&self, printer: Printer) {
        if !self.applying.load(Ordering::SeqCst) {
            printer.status(
                "Interrupted",
                "before applying anything: the platform is unchanged",
            );
            std::process::exit(ExitStatus::Interrupted.code().into());
        }
        if self.interrupt.request() {
            printer.warn(
                "interrupted: no new step will start; waiting for the running ones to finish \
                 (press Ctrl-C again to stop at once)",
            );
        } else {
            printer
                .warn("interrupted again: stopping now; `slugplan apply` resumes what was running");
            std::process::exit(ExitStatus::Interrupted.code().into());
        }
    }
}
