//! Just enough of `multipart/form-data` for the console's file uploads: the parts of a body read
//! up to a bound, each with its field name, its file name when it is a file, and its bytes. A
//! part cut off by the bound is left out, so the fields before a file too large still arrive.

/// One field of a posted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field's name.
    pub name: String,
    /// The file name a file field was sent with.
    pub file_name: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// A parameter of a `Content-Disposition` header (`name="…"`).
fn parameter(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The whole parts of `body`, in order.
pub fn parts(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let mut out = Vec::new();
    let Some(mut at) = find(body, delimiter.as_bytes(), 0).map(|p| p + delimiter.len()) else {
        return out;
    };
    loop {
        // After a delimiter: `--` ends the body, a line break starts a part.
        if body.get(at..at + 2) != Some(b"\r\n") {
            return out;
        }
        let head_start = at + 2;
        let Some(head_end) = find(body, b"\r\n\r\n", head_start) else {
            return out;
        };
        let Some(data_end) = find(body, next.as_bytes(), head_end + 4) else {
            return out;
        };
        let head = String::from_utf8_lossy(&body[head_start..head_end]);
        let disposition = head.split("\r\n").find(|line| {
            line.split(':')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("content-disposition"))
        });
        if let Some(name) = disposition.and_then(|d| parameter(d, "name")) {
            out.push(Part {
                name,
                file_name: disposition.and_then(|d| parameter(d, "filename")),
                data: body[head_end + 4..data_end].to_vec(),
            });
        }
        at = data_end + next.len();
    }
}

/// The body of a request read as it is needed, never past `limit` bytes: its first part alone
/// (so a form's first field is checked before the rest is read), then the rest.
pub struct BoundedBody {
    stream: axum::body::BodyDataStream,
    bytes: Vec<u8>,
    limit: usize,
    cut: bool,
    ended: bool,
}

impl BoundedBody {
    /// The body of `request`, nothing read yet.
    pub fn new(request: axum::extract::Request, limit: usize) -> BoundedBody {
        BoundedBody {
            stream: request.into_body().into_data_stream(),
            bytes: Vec::new(),
            limit,
            cut: false,
            ended: false,
        }
    }

    /// Reads one more chunk; false once the body ended or reached the limit.
    async fn more(&mut self) -> bool {
        use futures_util::StreamExt;
        if self.ended || self.cut {
            return false;
        }
        match self.stream.next().await {
            None => {
                self.ended = true;
                false
            }
            Some(Err(_)) => {
                self.cut = true;
                false
            }
            Some(Ok(chunk)) if self.bytes.len() + chunk.len() > self.limit => {
                let room = self.limit - self.bytes.len();
                self.bytes.extend_from_slice(&chunk[..room]);
                self.cut = true;
                false
            }
            Some(Ok(chunk)) => {
                self.bytes.extend_from_slice(&chunk);
                true
            }
        }
    }

    /// The body's first part, read no further than `within` bytes: none when the body is not
    /// `boundary`'s or its first part does not end within them.
    pub async fn first_part(&mut self, boundary: &str, within: usize) -> Option<Part> {
        loop {
            if let Some(first) = parts(&self.bytes, boundary).into_iter().next() {
                return Some(first);
            }
            if self.bytes.len() >= within {
                return None;
            }
            if !self.more().await {
                // The last chunk read may have ended the part.
                return parts(&self.bytes, boundary).into_iter().next();
            }
        }
    }

    /// The whole body up to the limit (what was read already included), and whether it went
    /// on past the limit.
    pub async fn rest(mut self) -> (Vec<u8>, bool) {
        while self.more().await {}
        (self.bytes, self.cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file, data) in parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let file = file
                .map(|f| format!("; filename=\"{f}\""))
                .unwrap_or_default();
            out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n").as_bytes(),
            );
            if file.is_empty() {
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        out
    }

    #[test]
    fn fields_and_a_file_with_line_breaks_inside_come_back_whole() {
        let file: &[u8] = b"PK\x03\x04\r\n--not the boundary\r\n\x00\xff";
        let sent = body(
            &[
                ("csrf", None, b"token"),
                ("package", Some("join.ppkg"), file),
            ],
            "----b0undary",
        );
        let got = parts(&sent, "----b0undary");
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].data.as_slice()),
            ("csrf", &b"token"[..])
        );
        assert_eq!(got[1].file_name.as_deref(), Some("join.ppkg"));
        assert_eq!(got[1].data, file);
        // Cut inside the file: the field before it still arrives, the file does not.
        let cut = parts(&sent[..sent.len() - 30], "----b0undary");
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].name, "csrf");
        assert!(parts(b"no parts here", "x").is_empty());
    }

    #[test]
    fn the_boundary_is_read_from_the_content_type_only_for_form_data() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;charset=utf-8; boundary=x-1").as_deref(),
            Some("x-1")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }
}
