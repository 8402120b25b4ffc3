//! Docker's JSON message streams (pull, push, load, import, bootstrap): one JSON object per line,
//! with per-layer progress, and errors in `errorDetail` once the stream has begun.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::error::ApiError;

/// How often a layer's progress may be reported.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// A writer of JSON messages; cheap to clone. Messages written after the client went away are
/// dropped.
#[derive(Debug, Clone)]
pub struct Progress {
    tx: mpsc::UnboundedSender<Bytes>,
    last: Arc<Mutex<HashMap<String, Instant>>>,
    quiet: bool,
}

impl Progress {
    fn new(tx: mpsc::UnboundedSender<Bytes>) -> Progress {
        Progress {
            tx,
            last: Arc::default(),
            quiet: false,
        }
    }

    /// A progress whose messages go nowhere (internal pulls).
    pub fn discard() -> Progress {
        Progress::new(mpsc::unbounded_channel().0)
    }

    /// Without per-layer messages (`quiet` loads); statuses without an id still go out.
    pub fn quiet(mut self, quiet: bool) -> Progress {
        self.quiet = quiet;
        self
    }

    pub fn send(&self, v: Value) {
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        let _ = self.tx.send(Bytes::from(line));
    }

    /// `{"status": ..., "id": ...}`.
    pub fn status(&self, id: Option<&str>, status: &str) {
        match id {
            Some(id) if self.quiet => {
                let _ = id;
            }
            Some(id) => self.send(json!({ "status": status, "id": id })),
            None => self.send(json!({ "status": status })),
        }
    }

    /// A progress bar for `id`, at most every 100 ms per id (and always at the end).
    pub fn progress(&self, id: &str, status: &str, current: u64, total: u64) {
        if self.quiet {
            return;
        }
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if let Some(t) = last.get(id) {
                if now.duration_since(*t) < PROGRESS_INTERVAL && current < total {
                    return;
                }
            }
            last.insert(id.to_string(), now);
        }
        let detail = if total > 0 {
            json!({ "current": current, "total": total })
        } else {
            json!({ "current": current })
        };
        self.send(json!({
            "status": status,
            "progressDetail": detail,
            "progress": bar(current, total),
            "id": id,
        }));
    }

    /// `{"errorDetail": {"message": ...}, "error": ...}`.
    pub fn error(&self, message: &str) {
        self.send(json!({ "errorDetail": { "message": message }, "error": message }));
    }

    /// `{"aux": ...}` (push digests, load's image IDs).
    pub fn aux(&self, v: Value) {
        self.send(json!({ "aux": v }));
    }

    /// `{"stream": ...}` (load's "Loaded image: ..." lines).
    pub fn stream(&self, text: &str) {
        self.send(json!({ "stream": text }));
    }
}

/// Runs `work` with a [`Progress`] and answers with its message stream. The answer's status waits
/// for the first message: a failure before any message is a plain HTTP error (as dockerd answers
/// `docker pull` of an unknown image), a later one is an `errorDetail` message in the stream.
pub async fn stream_response<F, Fut>(work: F) -> Response
where
    F: FnOnce(Progress) -> Fut,
    Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let progress = Progress::new(tx);
    let p_err = progress.clone();
    let fut = work(progress);
    let mut task = tokio::spawn(async move {
        let r = fut.await;
        crate::util::trim_memory();
        r
    });
    enum Early {
        Msg(Option<Bytes>),
        Done(Result<Result<(), ApiError>, tokio::task::JoinError>),
    }
    let early = tokio::select! {
        biased;
        m = rx.recv() => Early::Msg(m),
        r = &mut task => Early::Done(r),
    };
    let mut first = Vec::new();
    match early {
        Early::Msg(m) => {
            first.extend(m);
            // The stream has begun: a later failure becomes a message; the waiter holds the last
            // sender so the stream ends when the work does.
            tokio::spawn(async move {
                match task.await {
                    Ok(Err(e)) => p_err.error(&e.message),
                    Err(e) => p_err.error(&format!("internal task failed: {e}")),
                    Ok(Ok(())) => {}
                }
            });
        }
        Early::Done(r) => {
            while let Ok(m) = rx.try_recv() {
                first.push(m);
            }
            match r {
                Ok(Err(e)) if first.is_empty() => return e.into_response(),
                Ok(Err(e)) => p_err.error(&e.message),
                Ok(Ok(())) => {}
                Err(e) => return ApiError::system(format!("internal task failed: {e}")).into_response(),
            }
            drop(p_err);
        }
    }
    let head = futures_util::stream::iter(first.into_iter().map(Ok::<_, std::convert::Infallible>));
    let rest = UnboundedReceiverStream::new(rx).map(Ok);
    let mut resp = Body::from_stream(head.chain(rest)).into_response();
    resp.headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().expect("static header"));
    resp
}

/// Docker's progress bar: `[=====>      ]  1.2MB/3.4MB`.
pub fn bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    if total == 0 {
        return human_size(current);
    }
    let cur = current.min(total);
    let n = cur * WIDTH / total;
    let mut s = String::from("[");
    for i in 0..WIDTH {
        s.push(if i + 1 < n {
            '='
        } else if i + 1 == n {
            '>'
        } else {
            ' '
        });
    }
    s.push_str("] ");
    s.push_str(&format!("{:>8}/{}", human_size(current), human_size(total)));
    s
}

/// go-units `HumanSize`: decimal units, 4 significant digits, as `%.4g`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), UNITS[i])
}

/// Go's `%.<prec>g` for values below 1000 (the only ones sizes need).
fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (v.abs().log10().floor() as i64 + 1).max(1) as usize;
    let decimals = prec.saturating_sub(digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(95_000_000), "95MB");
    }

    #[test]
    fn bars() {
        let b = bar(50, 100);
        assert!(b.starts_with("[========================>"), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
        assert_eq!(bar(5, 0), "5B");
    }

    #[tokio::test]
    async fn early_error_is_a_status_late_error_is_in_the_stream() {
        let r = stream_response(|_p| async { Err(ApiError::not_found("manifest unknown")) }).await;
        assert_eq!(r.status(), 404);
        let r = stream_response(|p| async move {
            p.status(None, "Pulling");
            Err(ApiError::system("boom"))
        })
        .await;
        assert_eq!(r.status(), 200);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("\"status\":\"Pulling\""), "{text}");
        assert!(text.contains("\"errorDetail\":{\"message\":\"boom\"}"), "{text}");
    }
}
