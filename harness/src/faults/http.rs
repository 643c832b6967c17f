//! Just enough HTTP/1.1 for a forwarding proxy: read one request or one
//! response off a stream, keeping its bytes as they came (so forwarding is
//! byte-faithful and a signature over them still holds) and its body decoded
//! (so a request can be named by what it asks for).
//!
//! Framing: `Content-Length`, `Transfer-Encoding: chunked`, no body (HEAD,
//! 1xx, 204, 304), or until the peer closes. Odd input is an error, never a
//! panic; heads and bodies are bounded.

use std::io::{Error, ErrorKind, Result};

use tokio::io::{AsyncRead, AsyncReadExt};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A request or response: its head as received and its body both as
/// received and decoded.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// The start line and header lines, through the blank line.
    pub head: Vec<u8>,
    /// The start line's words (`GET /path HTTP/1.1`, `HTTP/1.1 200 OK`).
    pub start: Vec<String>,
    pub headers: Vec<(String, String)>,
    /// The body's bytes as framed on the wire (chunk sizes included).
    pub raw_body: Vec<u8>,
    /// The body's content.
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// For a response: its status code (0 if the line is malformed).
    pub fn status(&self) -> u16 {
        self.start.get(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// The whole message as received.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = self.head.clone();
        bytes.extend_from_slice(&self.raw_body);
        bytes
    }

    /// The head with one header line added before the blank line.
    pub fn head_with(&self, name: &str, value: &str) -> Vec<u8> {
        let mut head = self.head[..self.head.len() - 2].to_vec();
        head.extend_from_slice(format!("{name}: {value}\r\n\r\n").as_bytes());
        head
    }

    /// The head without `Connection`/`Keep-Alive` and with
    /// `Connection: close` (one request per connection). With
    /// `content_length`, the framing headers are replaced by that length
    /// (for a re-framed chunked body).
    pub fn head_closing(&self, content_length: Option<usize>) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.head);
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let mut head = String::new();
        if let Some(start) = lines.next() {
            head.push_str(start);
            head.push_str("\r\n");
        }
        for line in lines {
            let name = line
                .split_once(':')
                .map_or("", |(n, _)| n.trim())
                .to_ascii_lowercase();
            let framing = matches!(name.as_str(), "content-length" | "transfer-encoding");
            if name == "connection" || name == "keep-alive" || (content_length.is_some() && framing)
            {
                continue;
            }
            head.push_str(line);
            head.push_str("\r\n");
        }
        if let Some(length) = content_length {
            head.push_str(&format!("Content-Length: {length}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

/// `truncated-2xx` on the wire: `head` (with the full `Content-Length`) and
/// the first half of `body`; without a body, only the status line. The
/// connection is to be closed after it.
pub(crate) fn cut(head: &[u8], body: &[u8]) -> Vec<u8> {
    if body.is_empty() {
        let end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
        return head[..end + 2].to_vec();
    }
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(&body[..body.len() / 2]);
    bytes
}

/// Reads from a stream through a buffer, so bytes read past one part stay
/// for the next.
pub(crate) struct Reader<'a, S> {
    stream: &'a mut S,
    buf: Vec<u8>,
}

impl<'a, S: AsyncRead + Unpin> Reader<'a, S> {
    pub fn new(stream: &'a mut S) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more; false at end of stream.
    async fn fill(&mut self) -> Result<bool> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// Through the next `\r\n` (a chunk-size or trailer line).
    async fn line(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.take(end + 2));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Error::new(ErrorKind::InvalidData, "line too long"));
            }
            if !self.fill().await? {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn exactly(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.take(n))
    }

    async fn until_closed(&mut self) -> Result<Vec<u8>> {
        while self.fill().await? {
            if self.buf.len() > MAX_BODY {
                return Err(Error::new(ErrorKind::InvalidData, "body too large"));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// A head through its blank line; `None` if the stream ended before
    /// its first byte.
    async fn head(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(self.take(end + 4)));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Error::new(ErrorKind::InvalidData, "head too large"));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// One message head, parsed; `None` at a clean end of stream.
    pub async fn message_head(&mut self) -> Result<Option<Message>> {
        let Some(head) = self.head().await? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let start: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .splitn(3, ' ')
            .map(str::to_owned)
            .collect();
        if start.len() < 2 {
            return Err(Error::new(ErrorKind::InvalidData, "malformed start line"));
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Ok(Some(Message {
            head,
            start,
            headers,
            raw_body: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }))
    }

    /// Reads the body `message`'s head announces. `to_eof` says whether a
    /// body without framing runs to the end of the stream (responses) or is
    /// empty (requests).
    pub async fn body(&mut self, message: &mut Message, to_eof: bool) -> Result<()> {
        let chunked = message
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            message.chunked = true;
            loop {
                let line = self.line().await?;
                message.raw_body.extend_from_slice(&line);
                let size_text = String::from_utf8_lossy(&line);
                let size_text = size_text.trim().split(';').next().unwrap_or_default();
                let size = usize::from_str_radix(size_text.trim(), 16)
                    .map_err(|_| Error::new(ErrorKind::InvalidData, "bad chunk size"))?;
                if message.body.len() + size > MAX_BODY {
                    return Err(Error::new(ErrorKind::InvalidData, "body too large"));
                }
                if size == 0 {
                    loop {
                        let trailer = self.line().await?;
                        message.raw_body.extend_from_slice(&trailer);
                        if trailer == b"\r\n" {
                            return Ok(());
                        }
                    }
                }
                let data = self.exactly(size + 2).await?;
                message.body.extend_from_slice(&data[..size]);
                message.raw_body.extend_from_slice(&data);
            }
        }
        if let Some(length) = message.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| Error::new(ErrorKind::InvalidData, "bad Content-Length"))?;
            if length > MAX_BODY {
                return Err(Error::new(ErrorKind::InvalidData, "body too large"));
            }
            message.body = self.exactly(length).await?;
            message.raw_body.clone_from(&message.body);
            return Ok(());
        }
        if to_eof {
            message.body = self.until_closed().await?;
            message.raw_body.clone_from(&message.body);
        }
        Ok(())
    }

    /// Bytes already read past the last message (an `Expect` client's body
    /// may be here).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Reads a request; `None` if the client closed without sending one. A
/// client that sent `Expect: 100-continue` and waits is told to continue.
pub(crate) async fn read_request<S>(stream: &mut S) -> Result<Option<Message>>
where
    S: AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut reader = Reader::new(stream);
    let Some(mut request) = reader.message_head().await? else {
        return Ok(None);
    };
    let expects = request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    if expects && reader.buffered() == 0 {
        use tokio::io::AsyncWriteExt;
        reader
            .stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    reader.body(&mut request, false).await?;
    Ok(Some(request))
}

/// Reads a response to a request with `method`, skipping interim 1xx
/// answers.
pub(crate) async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    method: &str,
) -> Result<Message> {
    let mut reader = Reader::new(stream);
    loop {
        let mut response = reader
            .message_head()
            .await?
            .ok_or(ErrorKind::UnexpectedEof)?;
        let status = response.status();
        if (100..200).contains(&status) {
            continue;
        }
        if method != "HEAD" && status != 204 && status != 304 {
            reader.body(&mut response, true).await?;
        }
        return Ok(response);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_response(bytes: &[u8], method: &str) -> Result<Message> {
        let mut stream = bytes;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(read_response(&mut stream, method))
    }

    #[test]
    fn a_chunked_body_is_decoded_and_kept_as_framed() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n";
        let response = parse_response(wire, "GET").unwrap();
        assert_eq!(response.body, b"Wikipedia");
        assert_eq!(response.bytes(), wire);
        let reframed = String::from_utf8(response.head_closing(Some(9))).unwrap();
        assert!(reframed.contains("Content-Length: 9\r\n"));
        assert!(!reframed.contains("chunked"));
    }

    #[test]
    fn interim_answers_are_skipped_and_connection_headers_replaced() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
        let response = parse_response(wire, "POST").unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.body, b"ok");
        let head = String::from_utf8(response.head_closing(None)).unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        for wire in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n",
        ] {
            assert!(parse_response(wire, "GET").is_err());
        }
        let no_body = parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE").unwrap();
        assert!(no_body.body.is_empty());
    }
}
