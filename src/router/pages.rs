//! What the router answers itself, as Heroku's router does: its error codes and their pages.
//!
//! Each failure has Heroku's code, description and status (`H14 - No web processes running`,
//! 503), so the log reads as on Heroku and its error-code documentation applies. The pages carry
//! Heroku's texts ("Application error", "Offline for Maintenance") inline: Heroku's own pages
//! load them from its CDN, which a local platform must not depend on (nor make a browser fetch).
//! Each page also names its code, which Heroku's pages leave to the log.

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

/// One of the router's answers instead of the app's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `H10 - App crashed`: the app's web dynos crashed.
    Crashed,
    /// `H12 - Request timeout`: the dyno sent no response in time.
    RequestTimeout,
    /// `H13 - Connection closed without response`: the dyno closed the connection first.
    ClosedWithoutResponse,
    /// `H14 - No web processes running`.
    NoWebProcesses,
    /// `H15 - Idle connection`: the dyno's response stopped for longer than the idle timeout.
    IdleConnection,
    /// `H18 - Server Request Interrupted`: the dyno's response broke off.
    ServerInterrupted,
    /// `H19 - Backend connection timeout`: no connection to a dyno could be made.
    ConnectTimeout,
    /// `H20 - App boot timeout`: the web dynos did not come up while the request waited.
    BootTimeout,
    /// `H27 - Client Request Interrupted`: the client left before the response was sent.
    ClientInterrupted,
    /// `H80 - Maintenance mode`: the app is in maintenance (logged at `info`).
    Maintenance,
}

impl Failure {
    /// Heroku's code, e.g. `H14`.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Crashed => "H10",
            Failure::RequestTimeout => "H12",
            Failure::ClosedWithoutResponse => "H13",
            Failure::NoWebProcesses => "H14",
            Failure::IdleConnection => "H15",
            Failure::ServerInterrupted => "H18",
            Failure::ConnectTimeout => "H19",
            Failure::BootTimeout => "H20",
            Failure::ClientInterrupted => "H27",
            Failure::Maintenance => "H80",
        }
    }

    /// Heroku's description, e.g. `No web processes running`.
    pub fn description(self) -> &'static str {
        match self {
            Failure::Crashed => "App crashed",
            Failure::RequestTimeout => "Request timeout",
            Failure::ClosedWithoutResponse => "Connection closed without response",
            Failure::NoWebProcesses => "No web processes running",
            Failure::IdleConnection => "Idle connection",
            Failure::ServerInterrupted => "Server Request Interrupted",
            Failure::ConnectTimeout => "Backend connection timeout",
            Failure::BootTimeout => "App boot timeout",
            Failure::ClientInterrupted => "Client Request Interrupted",
            Failure::Maintenance => "Maintenance mode",
        }
    }

    /// The status the client gets (and the log shows).
    pub fn status(self) -> StatusCode {
        match self {
            // Nginx's "client closed request": the client is gone, the log still says why.
            Failure::ClientInterrupted => {
                StatusCode::from_u16(499).expect("499 is a valid status code")
            }
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// `error`, or `info` for maintenance, which is no error of the app's.
    pub fn level(self) -> &'static str {
        match self {
            Failure::Maintenance => "info",
            _ => "error",
        }
    }

    /// The page the client gets.
    pub fn page(self) -> Bytes {
        match self {
            Failure::Maintenance => page(
                "Offline for Maintenance",
                "Offline for Maintenance",
                "This app is undergoing maintenance right now. Please check back later.",
                self,
            ),
            _ => page(
                "Application Error",
                "Application error",
                "An error occurred in the application and your page could not be served. If you \
                 are the application owner, check your logs for details. You can do this from \
                 the Heroku CLI with the command <code>heroku logs --tail</code> (or <code>slugplan \
                 logs APP --tail</code>).",
                self,
            ),
        }
    }
}

/// The page for a port whose app was deleted meanwhile (Heroku's "no such app", 404).
pub fn no_such_app() -> Bytes {
    Bytes::from(format!(
        "{HEAD}<title>No such app</title>\n</head>\n<body>\n<main>\n<h1>There's nothing here, \
         yet.</h1>\n<p>No app answers on this address any more.</p>\n</main>\n</body>\n</html>\n"
    ))
}

/// The headers every router page has: HTML, never cached (as Heroku's).
pub fn headers(headers: &mut hyper::HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
}

const HEAD: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<meta \
    name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<style>\nbody { \
    font-family: -apple-system, BlinkMacSystemFont, \"Segoe UI\", Helvetica, Arial, sans-serif; \
    color: #3f3f44; background: #f7f8fb; margin: 0; }\nmain { max-width: 36em; margin: 12vh auto; \
    padding: 0 1.5em; }\nh1 { font-size: 1.6em; font-weight: 500; }\nsmall { color: #79799c; \
    }\n</style>\n";

fn page(title: &str, heading: &str, text: &str, failure: Failure) -> Bytes {
    Bytes::from(format!(
        "{HEAD}<title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{heading}</h1>\n<p>{text}</p>\n\
         <p><small>{} - {}</small></p>\n</main>\n</body>\n</html>\n",
        failure.code(),
        failure.description()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_say_what_herokus_say_and_name_their_code() {
        let h14 = String::from_utf8(Failure::NoWebProcesses.page().to_vec()).unwrap();
        assert!(h14.contains("<title>Application Error</title>"), "{h14}");
        assert!(h14.contains("H14 - No web processes running"), "{h14}");
        let h10 = String::from_utf8(Failure::Crashed.page().to_vec()).unwrap();
        assert!(h10.contains("H10 - App crashed"), "{h10}");
        let maintenance = String::from_utf8(Failure::Maintenance.page().to_vec()).unwrap();
        assert!(
            maintenance.contains("This app is undergoing maintenance right now."),
            "{maintenance}"
        );
        assert_eq!(Failure::Maintenance.level(), "info");
        assert_eq!(Failure::NoWebProcesses.status(), 503);
        // Nothing on the pages is fetched from elsewhere.
        for page in [h14, maintenance] {
            assert!(!page.contains("http"), "{page}");
        }
    }
}
