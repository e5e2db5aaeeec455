//! The only error renderer: `error:`, the chain of causes, the source snippet and `help:`.

use miette::{GraphicalReportHandler, GraphicalTheme};

/// Sets up miette's renderer, with or without colour.
pub fn install(color: bool) {
    let _ = miette::set_hook(Box::new(move |_| {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        Box::new(
            GraphicalReportHandler::new_themed(theme)
                .with_context_lines(2)
                .with_width(100),
        )
    }));
}

/// Prints `report` to stderr.
pub fn report(report: &miette::Report) {
    #[expect(clippy::print_stderr, reason = "this is the error renderer")]
    {
        eprintln!("{report:?}");
    }
}
