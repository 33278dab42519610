//! The API behind the `web_search` tool: a plain HTTP server on 127.0.0.1 that answers only
//! when Keygate injected the right key.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const KEY: &str = "sk-e2e-upstream-key";
pub const ANSWER: &str = "upstream saw the right key";

/// Start it; returns its search URL and the count of calls with the right key.
pub fn start() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let url = format!("http://{}/search", listener.local_addr().expect("addr"));
    let good = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&good);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut length, mut key_ok) = (0usize, false);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                key_ok |= lower.starts_with("x-api-key:") && line["x-api-key:".len()..].trim() == KEY;
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, text) = if key_ok {
                counter.fetch_add(1, Ordering::SeqCst);
                ("200 OK", format!("{{\"results\": [{{\"title\": \"{ANSWER}\"}}]}}"))
            } else {
                ("401 Unauthorized", "{\"error\": \"bad key\"}".to_string())
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = reader.get_mut().write_all(reply.as_bytes());
        }
    });
    (url, good)
}
