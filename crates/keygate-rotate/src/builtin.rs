//! Built-in providers, through their documented key APIs, authenticated with the admin
//! credential: OpenAI (a project service account per key), OpenRouter (`/keys`), Cloudflare
//! (API tokens: a new token with the current one's policies, then the old one deleted).
//! Every key is named `keygate-<credential>-<attempt>`, so an attempt interrupted after the
//! provider minted can find and revoke what it left before minting again.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use crate::config::{Kind, Rotator, shown};
use crate::probe::client;
use crate::provider::{MintRequest, Minted};
use crate::redact::redact;

pub(crate) struct Builtin<'a> {
    rotator: &'a Rotator,
    base: String,
    admin: SecretString,
    http: reqwest::Client,
}

/// The name a key minted for `attempt` carries at the provider.
pub(crate) fn key_name(credential: &str, attempt: &str) -> String {
    format!("keygate-{credential}-{attempt}")
}

impl<'a> Builtin<'a> {
    pub(crate) fn new(rotator: &'a Rotator, admin: SecretString) -> Result<Self, String> {
        let default = match rotator.kind {
            Kind::OpenAi { .. } => "https://api.openai.com/v1",
            Kind::OpenRouter => "https://openrouter.ai/api/v1",
            Kind::Cloudflare => "https://api.cloudflare.com/client/v4",
            Kind::Command { .. } | Kind::Manual => return Err("not a built-in".into()),
        };
        let base = match &rotator.base_url {
            // The example gives the host only; the API root follows it.
            Some(url) => api_root(url, &rotator.kind),
            None => default.to_string(),
        };
        Ok(Self { rotator, base, admin, http: client(rotator.timeout)? })
    }

    pub(crate) async fn mint(&self, request: &MintRequest<'_>) -> Result<Minted, String> {
        let name = key_name(request.credential, request.attempt);
        match &self.rotator.kind {
            Kind::OpenAi { project } => {
                let url = format!("{}/service_accounts", self.openai_project(project.as_deref()).await?);
                let body = self.call(Method::POST, &url, Some(json!({ "name": name }))).await?;
                let value = take_str(&body, &["api_key", "value"])?;
                let expires = body["api_key"]["expires_at"]
                    .as_i64()
                    .map(|s| keygate_vault::Timestamp::from_unix_millis(s * 1000));
                Ok(Minted { value, id: Some(id_of(&body, &["id"])?), expires_at: expires })
            }
            Kind::OpenRouter => {
                let body =
                    self.call(Method::POST, &format!("{}/keys", self.base), Some(json!({ "name": name }))).await?;
                let value = take_str(&body, &["key"])?;
                Ok(Minted { value, id: Some(id_of(&body, &["data", "hash"])?), expires_at: None })
            }
            Kind::Cloudflare => {
                let current_id = match request.current_id {
                    Some(id) => id.to_string(),
                    None => self.cloudflare_verify(request.current).await?,
                };
                let url = format!("{}/user/tokens/{}", self.base, segment(&current_id));
                let current = self.call(Method::GET, &url, None).await?;
                let policies = current["result"]["policies"].clone();
                let body = json!({ "name": name, "policies": policies });
                let made = self.call(Method::POST, &format!("{}/user/tokens", self.base), Some(body)).await?;
                let value = take_str(&made, &["result", "value"])?;
                Ok(Minted { value, id: Some(id_of(&made, &["result", "id"])?), expires_at: None })
            }
            Kind::Command { .. } | Kind::Manual => Err("not a built-in".into()),
        }
    }

    /// Revoke the key `id` (or, for Cloudflare, the token `value` names); gone counts as done.
    pub(crate) async fn revoke(&self, value: &SecretString, id: Option<&str>) -> Result<(), String> {
        let id = match (id, &self.rotator.kind) {
            (Some(id), _) => id.to_string(),
            (None, Kind::Cloudflare) => match self.cloudflare_verify(value).await {
                Ok(id) => id,
                Err(_) => return Ok(()), // a token that no longer verifies is revoked already
            },
            (None, _) => {
                return Err("the key has no provider id (it was not minted by Keygate): revoke it by hand".into());
            }
        };
        self.delete(&id).await
    }

    /// Revoke every key named for `attempt`.
    pub(crate) async fn clean_up(&self, credential: &str, attempt: &str) -> Result<(), String> {
        let name = key_name(credential, attempt);
        for id in self.list_named(&name).await? {
            self.delete(&id).await?;
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), String> {
        let url = match &self.rotator.kind {
            Kind::OpenAi { project } => {
                format!("{}/service_accounts/{}", self.openai_project(project.as_deref()).await?, segment(id))
            }
            Kind::OpenRouter => format!("{}/keys/{}", self.base, segment(id)),
            _ => format!("{}/user/tokens/{}", self.base, segment(id)),
        };
        match self.send(Method::DELETE, &url, None).await {
            Ok(_) => Ok(()),
            Err((Some(StatusCode::NOT_FOUND), _)) => Ok(()),
            Err((_, why)) => Err(why),
        }
    }

    async fn list_named(&self, name: &str) -> Result<Vec<String>, String> {
        let (url, list, id_key) = match &self.rotator.kind {
            Kind::OpenAi { project } => {
                (format!("{}/service_accounts?limit=100", self.openai_project(project.as_deref()).await?), "data", "id")
            }
            Kind::OpenRouter => (format!("{}/keys", self.base), "data", "hash"),
            _ => (format!("{}/user/tokens?per_page=50", self.base), "result", "id"),
        };
        let body = self.call(Method::GET, &url, None).await?;
        let items = body[list].as_array().cloned().unwrap_or_default();
        Ok(items
            .iter()
            .filter(|item| item["name"].as_str() == Some(name))
            .filter_map(|item| item[id_key].as_str().map(str::to_string))
            .collect())
    }

    /// The URL of the OpenAI project whose service accounts hold the keys: the configured one,
    /// else the organization's only active project.
    async fn openai_project(&self, configured: Option<&str>) -> Result<String, String> {
        let project = match configured {
            Some(project) => project.to_string(),
            None => {
                let url = format!("{}/organization/projects?limit=100", self.base);
                only_active_project(&self.call(Method::GET, &url, None).await?, &self.rotator.credential)?
            }
        };
        Ok(format!("{}/organization/projects/{}", self.base, segment(&project)))
    }

    /// The id of the Cloudflare token `value` (it verifies itself).
    async fn cloudflare_verify(&self, value: &SecretString) -> Result<String, String> {
        let url = format!("{}/user/tokens/verify", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(value.expose_secret())
            .send()
            .await
            .map_err(|e| redact(&format!("{url}: {e}"), &[value, &self.admin]))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {} for the current token", response.status().as_u16()));
        }
        let body: Value = response.json().await.map_err(|_| format!("{url} did not answer JSON"))?;
        id_of(&body, &["result", "id"])
    }

    async fn call(&self, method: Method, url: &str, body: Option<Value>) -> Result<Value, String> {
        self.send(method, url, body).await.map_err(|(_, why)| why)
    }

    /// One admin request; the answer's JSON, or its status and why (redacted).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, (Option<StatusCode>, String)> {
        let mut request = self.http.request(method.clone(), url).bearer_auth(self.admin.expose_secret());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response =
            request.send().await.map_err(|e| (None, redact(&format!("{method} {url}: {e}"), &[&self.admin])))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            // Only the status: an error body might echo a key.
            return Err((Some(status), format!("{method} {url} answered {}", status.as_u16())));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| (Some(status), format!("{method} {url} did not answer JSON")))
    }
}

fn api_root(url: &Url, kind: &Kind) -> String {
    let text = url.as_str().trim_end_matches('/').to_string();
    let suffix = match kind {
        Kind::OpenAi { .. } => "/v1",
        Kind::OpenRouter => "/api/v1",
        _ => "/client/v4",
    };
    if url.path().trim_end_matches('/').is_empty() { format!("{text}{suffix}") } else { text }
}

/// The one active project in an OpenAI project listing, or why there is none to choose.
fn only_active_project(listing: &Value, credential: &str) -> Result<String, String> {
    let active: Vec<&str> = listing["data"]
        .as_array()
        .map(|projects| projects.iter().filter(|p| p["status"] == "active").filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    match active.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => Err("the OpenAI organization has no active project: create one, or set project in the rotator".into()),
        many => {
            let named: Vec<String> = many.iter().take(5).map(|id| shown(id)).collect();
            Err(format!(
                "the OpenAI organization has {} active projects ({}{}): set project = \"proj_...\" in [rotator.{credential}]",
                many.len(),
                named.join(", "),
                if many.len() > 5 { ", ..." } else { "" }
            ))
        }
    }
}

/// An id from a provider, made safe as one URL path segment.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn take_str(body: &Value, path: &[&str]) -> Result<SecretString, String> {
    let mut node = body;
    for key in path {
        node = &node[*key];
    }
    node.as_str()
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| format!("the provider's answer has no {}", path.join(".")))
}

fn id_of(body: &Value, path: &[&str]) -> Result<String, String> {
    let mut node = body;
    for key in path {
        node = &node[*key];
    }
    node.as_str().map(str::to_string).ok_or_else(|| format!("the provider's answer has no {}", path.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_openai_project_is_the_only_active_one_or_refused_naming_them() {
        let listing = |statuses: &[(&str, &str)]| json!({ "data": statuses.iter().map(|(id, s)| json!({ "id": id, "status": s })).collect::<Vec<_>>() });
        assert_eq!(
            only_active_project(&listing(&[("proj_a", "active"), ("proj_b", "archived")]), "k"),
            Ok("proj_a".into())
        );
        let many = only_active_project(&listing(&[("proj_a", "active"), ("proj_b", "active")]), "k")
            .expect_err("two active projects");
        assert!(many.contains("2 active projects (proj_a, proj_b)") && many.contains("[rotator.k]"), "{many}");
        let none = only_active_project(&json!({ "data": "nonsense" }), "k").expect_err("no project");
        assert!(none.contains("no active project"), "{none}");
    }
}
