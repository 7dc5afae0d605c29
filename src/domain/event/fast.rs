//! The edge's fast path: an event read straight from its JSON text into the typed
//! interfaces, without building a `serde_json::Value` tree for the whole event first and
//! walking it a second time.
//!
//! It takes the shapes SDKs send — exceptions, frames and breadcrumbs holding only the
//! fields Mesher types, each key once — and gives up (`None`) on anything else: a field it
//! does not type inside an interface, a duplicate key, a wrong type, a NUL, JSON that needs a
//! repair, any limit broken. The caller then takes the slow path, [`super::normalize_parsed`],
//! which accepts or rejects the event and names the field at fault. So the fast path never
//! decides an answer on its own: when it gives an event, the slow path would have given the
//! same one (a property test holds it to that), and every error still comes from one place.
//!
//! Top-level fields go into the same [`Parts`] the slow path fills, so the checks, the
//! limits and the order they run in are shared ([`assemble`]); only the interfaces —
//! most of an event's nodes — are read here into typed structs.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{
    Breadcrumb, Exception, Frame, Lazy, NormalizeOptions, NormalizedEvent, Parts, Stacktrace,
    assemble, fields, interfaces,
};

/// The event in `bytes` (no BOM, no `\u0000` escape), or `None` for the slow path.
pub(super) fn parse(bytes: &[u8], opts: &NormalizeOptions) -> Option<NormalizedEvent> {
    let Top(parts) = serde_json::from_slice(bytes).ok()?;
    assemble(parts, opts).ok()
}

/// Why the fast path gave up; never shown (the slow path gives the real answer).
fn give_up<E: de::Error>(why: &str) -> E {
    E::custom(why)
}

struct Top(Parts);

/// The top-level keys with a place of their own in [`Parts`].
enum Key {
    EventId,
    Timestamp,
    Level,
    Platform,
    Release,
    Environment,
    ServerName,
    Logger,
    Transaction,
    Fingerprint,
    Exception,
    Breadcrumbs,
    User,
    Contexts,
    Tags,
    Extra,
    Message,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            // A known name costs no allocation.
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "event_id" => Key::EventId,
                    "timestamp" => Key::Timestamp,
                    "level" => Key::Level,
                    "platform" => Key::Platform,
                    "release" => Key::Release,
                    "environment" => Key::Environment,
                    "server_name" => Key::ServerName,
                    "logger" => Key::Logger,
                    "transaction" => Key::Transaction,
                    "fingerprint" => Key::Fingerprint,
                    "exception" => Key::Exception,
                    "breadcrumbs" => Key::Breadcrumbs,
                    "user" => Key::User,
                    "contexts" => Key::Contexts,
                    "tags" => Key::Tags,
                    "extra" => Key::Extra,
                    "message" => Key::Message,
                    other => Key::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl Parts {
    /// The place of a top-level key kept as a `Value`.
    fn slot(&mut self, key: &Key) -> Option<&mut Option<Value>> {
        Some(match key {
            Key::EventId => &mut self.event_id,
            Key::Timestamp => &mut self.timestamp,
            Key::Level => &mut self.level,
            Key::Platform => &mut self.platform,
            Key::Release => &mut self.release,
            Key::Environment => &mut self.environment,
            Key::ServerName => &mut self.server_name,
            Key::Logger => &mut self.logger,
            Key::Transaction => &mut self.transaction,
            Key::Fingerprint => &mut self.fingerprint,
            Key::User => &mut self.user,
            Key::Contexts => &mut self.contexts,
            Key::Tags => &mut self.tags,
            Key::Extra => &mut self.extra,
            Key::Message => &mut self.message,
            Key::Exception | Key::Breadcrumbs | Key::Other(_) => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                let mut parts = Parts::default();
                // Each key once: with a duplicate, the slow path's last-one-wins decides.
                let (mut exception_seen, mut breadcrumbs_seen) = (false, false);
                while let Some(key) = map.next_key::<Key>()? {
                    if let Some(slot) = parts.slot(&key) {
                        if slot.is_some() {
                            return Err(give_up("duplicate key"));
                        }
                        *slot = Some(map.next_value()?);
                        continue;
                    }
                    match key {
                        Key::Exception if !exception_seen => {
                            exception_seen = true;
                            let Listed(items) = map.next_value::<Listed<Obj<FastException>>>()?;
                            let typed =
                                items.map(|v| v.into_iter().map(|Obj(e)| e.into()).collect());
                            parts.exception = Lazy::Typed(typed);
                        }
                        Key::Breadcrumbs if !breadcrumbs_seen => {
                            breadcrumbs_seen = true;
                            let Listed(items) = map.next_value::<Listed<Obj<FastBreadcrumb>>>()?;
                            let typed = match items {
                                None => None,
                                Some(v) => Some(
                                    v.into_iter()
                                        .map(|Obj(b)| b.typed())
                                        .collect::<Option<Vec<_>>>()
                                        .ok_or_else(|| give_up("breadcrumb"))?,
                                ),
                            };
                            parts.breadcrumbs = Lazy::Typed(typed);
                        }
                        Key::Other(name) => {
                            let value = map.next_value()?;
                            if parts.rest.insert(name, value).is_some() {
                                return Err(give_up("duplicate key"));
                            }
                        }
                        _ => return Err(give_up("duplicate key")),
                    }
                }
                Ok(Top(parts))
            }
        }
        deserializer.deserialize_map(TopVisitor)
    }
}

/// Sentry's `{"values": [...]}` or a bare list; `None` for `null`, `{}` and an empty list
/// (as the slow path). A lone object, `values` beside other keys or an escaped key is
/// for the slow path.
struct Listed<T>(Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Listed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListedVisitor<T> {
            type Value = Listed<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list or {\"values\": [...]}")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Listed<T>, E> {
                Ok(Listed(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Listed((!items.is_empty()).then_some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed<T>, A::Error> {
                let mut items: Option<Vec<T>> = None;
                while let Some(key) = map.next_key::<&str>()? {
                    if key != "values" || items.is_some() {
                        return Err(give_up("not a plain {\"values\": [...]}"));
                    }
                    items = Some(map.next_value()?);
                }
                Ok(Listed(items.filter(|v| !v.is_empty())))
            }
        }
        deserializer.deserialize_any(ListedVisitor(std::marker::PhantomData))
    }
}

/// A `T` read only from a JSON object. serde's derived structs also take an array, by
/// position (`[null, null, null, null, null]` for an exception), which the slow path
/// refuses: here an array is for the slow path.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastException {
    #[serde(rename = "type")]
    ty: Option<String>,
    value: Option<String>,
    module: Option<String>,
    mechanism: Option<Value>,
    stacktrace: Option<Obj<FastStacktrace>>,
}

impl From<FastException> for Exception {
    fn from(e: FastException) -> Self {
        Exception {
            ty: e.ty,
            value: e.value,
            module: e.module,
            mechanism: e.mechanism,
            stacktrace: e.stacktrace.map(|Obj(st)| Stacktrace {
                frames: st.frames.into_iter().map(|Obj(f)| Frame::from(f)).collect(),
                other: Map::new(),
            }),
            other: Map::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastStacktrace {
    #[serde(default)]
    frames: Vec<Obj<FastFrame>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastFrame {
    filename: Option<String>,
    abs_path: Option<String>,
    function: Option<String>,
    module: Option<String>,
    lineno: Option<u64>,
    colno: Option<u64>,
    in_app: Option<bool>,
    context_line: Option<String>,
    pre_context: Option<Vec<String>>,
    post_context: Option<Vec<String>>,
    vars: Option<Value>,
}

impl From<FastFrame> for Frame {
    fn from(f: FastFrame) -> Self {
        Frame {
            filename: f.filename,
            abs_path: f.abs_path,
            function: f.function,
            module: f.module,
            lineno: f.lineno,
            colno: f.colno,
            in_app: f.in_app,
            context_line: f.context_line,
            pre_context: f.pre_context,
            post_context: f.post_context,
            vars: f.vars,
            other: Map::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastBreadcrumb {
    timestamp: Option<Value>,
    #[serde(rename = "type")]
    ty: Option<String>,
    category: Option<String>,
    message: Option<String>,
    level: Option<String>,
    data: Option<Map<String, Value>>,
}

impl FastBreadcrumb {
    /// `None` when the timestamp is one the slow path refuses.
    fn typed(self) -> Option<Breadcrumb> {
        let timestamp = match self.timestamp {
            None => None,
            Some(t) => Some(fields::timestamp(&t, "breadcrumbs").ok()?),
        };
        Some(Breadcrumb {
            timestamp,
            ty: self.ty,
            category: self.category,
            message: self.message,
            level: self.level.map(interfaces::breadcrumb_level),
            data: self.data,
            other: Map::new(),
        })
    }
}
