//! `slugplan show`: a saved plan, rendered as `plan` renders it (`terraform show PLANFILE`).
//!
//! It reads only the file: no manifest, no platform, so a CI job can render the artifact a
//! pull request's job saved. Whether the plan is still fresh is `apply`'s question.

use crate::cli::args::{ShowArgs, plan_format};
use crate::exit_status::ExitStatus;
use crate::plan::saved;

use super::Session;

/// Reads the saved plan and prints it as text, JSON or Markdown.
pub fn run(args: &ShowArgs, session: &Session) -> miette::Result<ExitStatus> {
    let plan = saved::load(&args.plan_file)?;
    let format = plan_format(args.json, args.format);
    super::plan::print(&plan, format, session.printer());
    Ok(ExitStatus::Success)
}
