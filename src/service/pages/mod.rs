//! The dashboard's pages, pure: each takes the views its handler gathered (the status document,
//! store views) and returns a whole HTML document. No page has a script or an external asset,
//! every upstream-controlled string goes through [`html::escape`], and nothing on a page
//! changes state: its only form is the sign-in, which sets a cookie.
//!
//! - [`fleet`]: `GET /`, one row per server, sorted by name or lag (`?sort=lag`).
//! - [`server`]: `GET /servers/{name}`, with the lag chart of [`chart`].
//! - [`run`]: `GET /runs/{id}`.
//! - [`html`]: the shell: escaping, the style sheet, the Content-Security-Policy.

pub mod chart;
pub mod fleet;
pub mod html;
pub mod run;
pub mod server;

use html::{document, escape};

/// The sign-in page; `problem` says why the last attempt (or the request) was refused.
pub fn login(problem: Option<&str>) -> String {
    let problem = problem.map_or_else(String::new, |p| {
        format!("<p class=\"bad\" role=\"alert\">{}</p>\n", escape(p))
    });
    let body = format!(
        "<header>\n<h1>Sign in to the upkeep dashboard</h1>\n</header>\n<main>\n{problem}\
         <p>The dashboard shows what <code>/status</code> shows; it asks for the same read token \
         (<code>[service] read-token-env</code>). Signing in sets a cookie that only this service \
         reads.</p>\n<form method=\"post\" action=\"/login\">\n<p><label for=\"token\">Read token</label> \
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required=\"required\" /></p>\n\
         <p><button type=\"submit\">Sign in</button></p>\n</form>\n</main>\n"
    );
    document("Sign in", &body)
}

/// A page saying what was not found or went wrong.
pub fn problem(title: &str, text: &str) -> String {
    let body = format!(
        "<nav><p><a href=\"/\">← All servers</a></p></nav>\n<header>\n<h1>{}</h1>\n</header>\n<main>\n<p>{}</p>\n</main>\n",
        escape(title),
        escape(text)
    );
    document(title, &body)
}

#[cfg(test)]
mod tests;
