//! The consent page and the error page. Everything a client sent (its name, its redirect URI)
//! is escaped; the page runs no script (its CSP says so), and its form posts back here.

use std::fmt::Write as _;

use keygate_vault::{ConsentRequest, GrantInfo};

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#1d1d1f}\
h1{font-size:1.3em}code{background:#f2f2f4;padding:0 .25em;border-radius:3px}fieldset{border:1px solid #ccc;\
border-radius:6px;margin:1em 0}label{display:block;margin:.25em 0}.error{color:#a40000}.muted{color:#666}\
button{font-size:1em;padding:.4em 1.2em;margin-right:.6em}";

/// `text` safe inside HTML text and double- or single-quoted attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// A page saying what went wrong and what to do.
pub(super) fn error_page(message: &str) -> String {
    document(
        "Keygate: sign-in refused",
        &format!("<h1>Keygate could not continue</h1><p class=\"error\">{}</p>", escape(message)),
    )
}

/// What the consent page shows.
pub(super) struct ConsentView<'a> {
    pub request: &'a ConsentRequest,
    pub csrf: &'a str,
    pub grants: &'a [GrantInfo],
    pub tools: &'a [String],
    pub suggested_name: &'a str,
    pub problem: Option<&'a str>,
}

/// The consent page: who asks, where the answer goes, and the grant to give.
pub(super) fn consent_page(view: &ConsentView<'_>) -> String {
    let request = view.request;
    let mut body = format!(
        "<h1>Allow <strong>{}</strong> to use your Keygate tools?</h1>\
         <p>An application calling itself <strong>{}</strong> (client <code>{}</code>) asks for tokens to \
         <code>{}</code>. After you answer, your browser returns to <code>{}</code>.</p>\
         <p class=\"muted\">Only allow it if you just started this sign-in from that application. This request \
         expires at {}.</p>",
        escape(&request.client_name),
        escape(&request.client_name),
        escape(&request.client_id),
        escape(&request.resource),
        escape(&request.redirect_uri),
        escape(&request.expires_at.to_string()),
    );
    if let Some(problem) = view.problem {
        let _ = write!(body, "<p class=\"error\">{}</p>", escape(problem));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        super::CONSENT_PATH,
        escape(&request.id),
        escape(view.csrf)
    );
    body.push_str(&grant_choices(view));
    body.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
    );
    document("Keygate: allow access?", &body)
}

fn grant_choices(view: &ConsentView<'_>) -> String {
    let mut out = String::from("<fieldset><legend>Tokens are minted under the grant</legend>");
    for (index, grant) in view.grants.iter().enumerate() {
        let _ = write!(
            out,
            "<label><input type=\"radio\" name=\"grant\" value=\"{}\"{}> <strong>{}</strong> \
             <span class=\"muted\">({})</span></label>",
            escape(&grant.name),
            if index == 0 { " checked" } else { "" },
            escape(&grant.name),
            escape(&grant.tools.join(", "))
        );
    }
    let _ = write!(
        out,
        "<label><input type=\"radio\" name=\"grant\" value=\"\"{}> a new grant named \
         <input name=\"new_name\" value=\"{}\" pattern=\"[a-z0-9][a-z0-9\\-]{{0,31}}\" maxlength=\"32\"> \
         that may call:</label>",
        if view.grants.is_empty() { " checked" } else { "" },
        escape(view.suggested_name)
    );
    if view.tools.is_empty() {
        out.push_str(
            "<p class=\"muted\">No tools are configured yet: add some with <code>keygate tool</code> or \
                      <code>keygate server add</code> first.</p>",
        );
    }
    for tool in view.tools {
        let _ = write!(
            out,
            "<label style=\"margin-left:2em\"><input type=\"checkbox\" name=\"tool\" value=\"{}\"> <code>{}</code></label>",
            escape(tool),
            escape(tool)
        );
    }
    out.push_str("</fieldset>");
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(escape("<script>\"a\"&'b'</script>"), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
    }
}
