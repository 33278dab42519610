//! A minimal HTTP/1.1 client over one keep-alive TCP connection: enough to send MCP
//! `tools/call` POSTs at `keygate serve` fast (the flood) and to time single calls, with no
//! client library's pool or retries between the measurement and the socket.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// No answer within this long counts as a hang.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// One answer: the status and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// A `tools/call` that the upstream answered (no JSON-RPC error, no tool error).
    pub fn call_succeeded(&self) -> bool {
        self.status == 200 && !self.body.contains("\"error\"") && !self.body.contains("\"isError\":true")
    }
}

/// One keep-alive connection to `keygate serve`.
#[derive(Debug)]
pub struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: &str) -> Self {
        Self { addr: addr.to_string(), stream: None, buf: Vec::with_capacity(4096) }
    }

    /// POST a `tools/call` of `tool` with `token`; reconnects once if the server closed the connection.
    pub async fn call(&mut self, token: &str, tool: &str) -> Result<Answer> {
        let request = call_request(&self.addr, token, tool);
        match tokio::time::timeout(ANSWER_TIMEOUT, self.exchange(&request)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => {
                self.stream = None;
                tokio::time::timeout(ANSWER_TIMEOUT, self.exchange(&request)).await.context("no answer in 30 s")?
            }
            Err(_) => bail!("no answer in 30 s"),
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Answer> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let stream = self.stream.as_mut().context("connected")?;
        stream.write_all(request).await?;
        let answer = read_answer(stream, &mut self.buf).await;
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }
}

fn call_request(addr: &str, token: &str, tool: &str) -> Vec<u8> {
    let body = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"{tool}\",\"arguments\":{{}}}}}}"
    );
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMcp-Protocol-Version: 2025-06-18\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Read one response (Content-Length or chunked body) from `stream`; `buf` keeps any bytes
/// read past it.
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Answer> {
    let head_end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at + 4;
        }
        fill(stream, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("status line")?;
    let header = |name: &str| {
        head.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    let body = if let Some(length) = header("content-length") {
        let length: usize = length.parse().context("content-length")?;
        while buf.len() < head_end + length {
            fill(stream, buf).await?;
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        body
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        buf.drain(..head_end);
        read_chunked(stream, buf).await?
    } else {
        bail!("an answer with neither Content-Length nor chunked encoding")
    };
    Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = find(buf, b"\r\n") {
                break at;
            }
            fill(stream, buf).await?;
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).context("chunk size")?;
        while buf.len() < line_end + 2 + size + 2 {
            fill(stream, buf).await?;
        }
        body.extend_from_slice(&buf[line_end + 2..line_end + 2 + size]);
        buf.drain(..line_end + 2 + size + 2);
        if size == 0 {
            return Ok(body);
        }
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<()> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `p`-th percentile (0..=100) of `samples`, in microseconds.
pub fn percentile(samples: &mut [u64], p: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}
