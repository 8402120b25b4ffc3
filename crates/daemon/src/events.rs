//! Events: every state change the daemon makes, broadcast to `/events` listeners and kept in a
//! ring of the last 1024 for `--since`, as dockerd does (it keeps 256).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::util::now_nanos;

const RING: usize = 1024;

/// Docker's event message (API ≥ 1.22 shape, plus the deprecated `status`/`id`/`from` that
/// clients still read).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    ring: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
            ring: Mutex::new(VecDeque::with_capacity(RING)),
        }
    }
}

impl Events {
    /// Records and broadcasts an event.
    pub fn emit(&self, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        let t = now_nanos();
        let image_like = kind == "image";
        let ev = Event {
            status: image_like.then(|| action.to_string()),
            id: image_like.then(|| id.to_string()),
            from: None,
            kind: kind.to_string(),
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: t / 1_000_000_000,
            time_nano: t,
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if ring.len() == RING {
                ring.pop_front();
            }
            ring.push_back(ev.clone());
        }
        let _ = self.tx.send(ev);
    }

    /// Past events at or after `since` (ns), and a receiver of the ones to come; taken under one
    /// lock so that none falls between the two.
    pub fn subscribe(&self, since: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let past = match since {
            Some(s) => ring.iter().filter(|e| e.time_nano >= s).cloned().collect(),
            None => Vec::new(),
        };
        (past, rx)
    }

    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Docker's event filters: type, event/action, image, container, label, scope... matched as
/// dockerd does (values of one key are alternatives; keys must all match).
pub fn matches(ev: &Event, filters: &BTreeMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(key, values)| {
        if values.is_empty() {
            return true;
        }
        let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
        match key.as_str() {
            "type" => any(&|v| v == ev.kind),
            "event" | "action" => any(&|v| v == ev.action || ev.action.split(':').next() == Some(v)),
            "scope" => any(&|v| v == ev.scope),
            "image" => any(&|v| {
                (ev.kind == "image"
                    && (ev.actor.id == *v || ev.actor.attributes.get("name") == Some(&v.to_string())))
                    || ev.actor.attributes.get("image") == Some(&v.to_string())
            }),
            "container" => any(&|v| {
                ev.kind == "container"
                    && (ev.actor.id.starts_with(v) || ev.actor.attributes.get("name") == Some(&v.to_string()))
            }),
            "label" => any(&|v| match v.split_once('=') {
                Some((k, val)) => ev.actor.attributes.get(k).map(String::as_str) == Some(val),
                None => ev.actor.attributes.contains_key(v),
            }),
            "volume" | "network" | "plugin" | "daemon" | "node" | "service" | "secret" | "config" => {
                any(&|v| {
                    ev.kind == key.as_str()
                        && (ev.actor.id == *v || ev.actor.attributes.get("name") == Some(&v.to_string()))
                })
            }
            _ => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_and_filters() {
        let ev = Events::default();
        ev.emit("image", "pull", "busybox:latest", &[("name", "busybox")]);
        ev.emit("image", "tag", "sha256:abc", &[("name", "x:1")]);
        let (past, _rx) = ev.subscribe(Some(0));
        assert_eq!(past.len(), 2);
        let mut f = BTreeMap::new();
        f.insert("event".to_string(), vec!["tag".to_string()]);
        assert!(!matches(&past[0], &f));
        assert!(matches(&past[1], &f));
        f.clear();
        f.insert("image".to_string(), vec!["busybox".to_string()]);
        assert!(matches(&past[0], &f));
        f.insert("type".to_string(), vec!["container".to_string()]);
        assert!(!matches(&past[0], &f));
        let json = serde_json::to_value(&past[0]).unwrap();
        assert_eq!(json["Type"], "image");
        assert_eq!(json["status"], "pull");
        assert_eq!(json["Actor"]["Attributes"]["name"], "busybox");
    }
}
