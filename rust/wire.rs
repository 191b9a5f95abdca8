//! The gRPC wire format of `protos/routecore/v1/routing.proto`, in Rust: prost messages written
//! by hand (no `protoc` at build time) that mirror the proto field for field, the decoding of a
//! `RouteRequest` into a decision and the encoding of the `RouteDecision`, the JSON twin the
//! HTTP server answers, and the decision counters behind `GetStats`.
//!
//! Why here and not in Python: the server registers the routing methods with raw-bytes
//! serialisers, so a call costs one decode and one encode in Rust and Python only moves bytes.
//! `tests/test_wire.py` proves the bytes are those of the generated Python classes, both ways.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

use prost::Message;
use serde::Serialize;

use crate::engine::decide::{self, decide, ActionKind, Decision, Request, TargetOut};
use crate::engine::state::StateStore;
use crate::engine::time::parse_time;
use crate::engine::Plan;
use crate::error::{Error, Result};
use crate::region::RegionTables;

/// `routecore.v1.RouteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct RouteRequest {
    #[prost(string, tag = "1")]
    pub call_id: String,
    #[prost(string, tag = "2")]
    pub called: String,
    #[prost(string, tag = "3")]
    pub caller: String,
    #[prost(string, tag = "4")]
    pub digits: String,
    #[prost(string, optional, tag = "5")]
    pub time: Option<String>,
    #[prost(bool, tag = "6")]
    pub explain: bool,
}

/// `routecore.v1.Target`.
#[derive(Clone, PartialEq, Message)]
pub struct Target {
    #[prost(string, tag = "1")]
    pub number: String,
    #[prost(string, tag = "2")]
    pub uri: String,
    #[prost(uint32, tag = "3")]
    pub ring_seconds: u32,
    #[prost(double, tag = "4")]
    pub rate_per_minute: f64,
}

/// `routecore.v1.Menu`.
#[derive(Clone, PartialEq, Message)]
pub struct Menu {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub prompt: String,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
}

/// `routecore.v1.Reject`.
#[derive(Clone, PartialEq, Message)]
pub struct Reject {
    #[prost(uint32, tag = "1")]
    pub sip_code: u32,
    #[prost(string, tag = "2")]
    pub reason: String,
}

/// `routecore.v1.Display`.
#[derive(Clone, PartialEq, Message)]
pub struct Display {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub tag: String,
    #[prost(bool, tag = "3")]
    pub certified: bool,
}

/// `routecore.v1.Caller`.
#[derive(Clone, PartialEq, Message)]
pub struct Caller {
    #[prost(string, tag = "1")]
    pub normalized: String,
    #[prost(string, tag = "2")]
    pub kind: String,
    #[prost(string, tag = "3")]
    pub province: String,
    #[prost(string, tag = "4")]
    pub city: String,
    #[prost(string, tag = "5")]
    pub carrier: String,
    #[prost(bool, tag = "6")]
    pub virtual_operator: bool,
    #[prost(string, tag = "7")]
    pub country: String,
}

/// `routecore.v1.CalledClass` (`class` is a Rust keyword, hence `class_`).
#[derive(Clone, PartialEq, Message)]
pub struct CalledClass {
    #[prost(string, tag = "1")]
    pub class_: String,
    #[prost(string, repeated, tag = "2")]
    pub tags: Vec<String>,
}

/// `routecore.v1.Error`: why the request a stream or batch decision answers failed.
#[derive(Clone, PartialEq, Message)]
pub struct ErrorMsg {
    #[prost(string, tag = "1")]
    pub code: String,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// `routecore.v1.RouteDecision.Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Action {
    Unspecified = 0,
    Forward = 1,
    Menu = 2,
    Announce = 3,
    Voicemail = 4,
    Reject = 5,
}

impl From<ActionKind> for Action {
    fn from(a: ActionKind) -> Self {
        match a {
            ActionKind::Forward => Action::Forward,
            ActionKind::Menu => Action::Menu,
            ActionKind::Announce => Action::Announce,
            ActionKind::Voicemail => Action::Voicemail,
            ActionKind::Reject => Action::Reject,
        }
    }
}

/// `routecore.v1.RouteDecision`.
#[derive(Clone, PartialEq, Message)]
pub struct RouteDecision {
    #[prost(string, tag = "1")]
    pub call_id: String,
    #[prost(enumeration = "Action", tag = "2")]
    pub action: i32,
    #[prost(message, repeated, tag = "3")]
    pub targets: Vec<Target>,
    #[prost(bool, tag = "4")]
    pub parallel: bool,
    #[prost(message, optional, tag = "5")]
    pub menu: Option<Menu>,
    #[prost(string, tag = "6")]
    pub prompt: String,
    #[prost(string, tag = "7")]
    pub voicemail_box: String,
    #[prost(message, optional, tag = "8")]
    pub reject: Option<Reject>,
    #[prost(message, optional, tag = "9")]
    pub display: Option<Display>,
    #[prost(message, optional, tag = "10")]
    pub caller: Option<Caller>,
    #[prost(message, optional, tag = "11")]
    pub called_class: Option<CalledClass>,
    #[prost(string, tag = "12")]
    pub tenant: String,
    #[prost(string, tag = "13")]
    pub rule: String,
    #[prost(string, tag = "14")]
    pub plan_version: String,
    #[prost(string, repeated, tag = "15")]
    pub trace: Vec<String>,
    #[prost(message, optional, tag = "16")]
    pub error: Option<ErrorMsg>,
    #[prost(string, tag = "17")]
    pub uri: String,
}

/// `routecore.v1.RouteBatchRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct RouteBatchRequest {
    #[prost(message, repeated, tag = "1")]
    pub requests: Vec<RouteRequest>,
}

/// `routecore.v1.RouteBatchResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct RouteBatchResponse {
    #[prost(message, repeated, tag = "1")]
    pub decisions: Vec<RouteDecision>,
}

/// The gRPC status name a failed request gets (`RouteCall`'s status, the `error.code` of a
/// stream or batch item). O(1).
pub fn status_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidNumber { .. } | Error::InvalidArgument(_) => "INVALID_ARGUMENT",
        Error::NotFound(_) => "NOT_FOUND",
        Error::NotReady(_) => "UNAVAILABLE",
        // Plan, list and pattern errors come from compiling, never from one decision.
        Error::BadPattern { .. } | Error::BadList { .. } | Error::Plan(_) => "INTERNAL",
    }
}

/// Decodes a `RouteRequest`. O(len).
pub fn decode_request(bytes: &[u8]) -> Result<RouteRequest> {
    RouteRequest::decode(bytes)
        .map_err(|e| Error::InvalidArgument(format!("request: not a RouteRequest: {e}")))
}

/// Decodes a `RouteBatchRequest`. O(len).
pub fn decode_batch(bytes: &[u8]) -> Result<RouteBatchRequest> {
    RouteBatchRequest::decode(bytes)
        .map_err(|e| Error::InvalidArgument(format!("request: not a RouteBatchRequest: {e}")))
}

/// The request's time in ms since the epoch: its `time` read in the plan's timezone, or `now_ms`
/// when absent. O(len of `time`).
pub fn request_time(time: Option<&str>, plan: &Plan, now_ms: i64) -> Result<i64> {
    match time {
        None => Ok(now_ms),
        Some(t) => parse_time(t, plan.tz).map_err(|e| Error::InvalidArgument(format!("time: {e}"))),
    }
}

/// Decides one wire request against `plan`. The cost of [`decide`] plus the time parse.
pub fn decide_request(
    plan: &Plan,
    tables: &Arc<RegionTables>,
    state: &dyn StateStore,
    req: &RouteRequest,
    now_ms: i64,
) -> Result<Decision> {
    let time_ms = request_time(req.time.as_deref(), plan, now_ms)?;
    decide(
        plan,
        tables,
        state,
        &Request {
            call_id: &req.call_id,
            called: &req.called,
            caller: &req.caller,
            digits: &req.digits,
            time_ms,
            explain: req.explain,
        },
    )
}

/// The SIP URI a switch relays a target to: its own URI, or `sip:NUMBER@GATEWAY`; "" for a
/// number target when the plan has no gateway (there is no host to send it to). O(len).
pub fn target_uri(t: &TargetOut, gateway: &str) -> String {
    if !t.uri.is_empty() {
        t.uri.to_string()
    } else if !gateway.is_empty() {
        format!("sip:{}@{gateway}", t.number)
    } else {
        String::new()
    }
}

/// The SIP URI a switch relays to: [`target_uri`] of the first target; "" when the decision has
/// no target. O(len).
pub fn first_uri(d: &Decision, gateway: &str) -> String {
    d.targets
        .first()
        .map_or_else(String::new, |t| target_uri(t, gateway))
}

/// The `RouteDecision` message of a decision. O(size of the decision).
pub fn decision_message(d: &Decision, gateway: &str) -> RouteDecision {
    RouteDecision {
        call_id: d.call_id.clone(),
        action: Action::from(d.action) as i32,
        targets: d
            .targets
            .iter()
            .map(|t| Target {
                number: t.number.to_string(),
                uri: t.uri.to_string(),
                ring_seconds: t.ring_seconds,
                rate_per_minute: t.rate_per_minute,
            })
            .collect(),
        parallel: d.parallel,
        menu: d.menu.as_ref().map(|m| Menu {
            id: m.id.to_string(),
            prompt: m.prompt.to_string(),
            keys: m.keys.iter().map(ToString::to_string).collect(),
        }),
        prompt: d.prompt.to_string(),
        voicemail_box: d.voicemail_box.to_string(),
        reject: d.reject.as_ref().map(|(code, reason)| Reject {
            sip_code: u32::from(*code),
            reason: reason.to_string(),
        }),
        display: Some(Display {
            name: d.display_name.to_string(),
            tag: d.display_tag.to_string(),
            certified: d.certified,
        }),
        caller: Some({
            let r = d.caller.region();
            Caller {
                normalized: d.caller.number.as_str().to_string(),
                kind: d.caller.number.kind.as_str().to_string(),
                province: r.province.to_string(),
                city: r.city.to_string(),
                carrier: r.carrier.to_string(),
                virtual_operator: r.virtual_operator,
                country: r.country.to_string(),
            }
        }),
        called_class: Some(CalledClass {
            class_: d.called_class.to_string(),
            tags: d.called_tags.to_vec(),
        }),
        tenant: d.tenant.to_string(),
        rule: d.rule.to_string(),
        plan_version: d.plan_version.to_string(),
        trace: d.trace.clone(),
        error: None,
        uri: first_uri(d, gateway),
    }
}

/// The call id a failed request's stand-in decision echoes: its own, or `""` when the call id
/// itself was refused (too long, or not printable: it is not sent back). O(len).
fn echoed_call_id(call_id: &str) -> &str {
    if decide::check_call_id(call_id).is_ok() {
        call_id
    } else {
        ""
    }
}

/// The decision that stands for a failed request inside a stream or a batch: the request's
/// `call_id` (see [`echoed_call_id`]) and `error`, nothing else. O(len of the message).
pub fn error_message(call_id: &str, e: &Error) -> RouteDecision {
    RouteDecision {
        call_id: echoed_call_id(call_id).to_string(),
        error: Some(ErrorMsg {
            code: status_name(e).to_string(),
            message: e.to_string(),
        }),
        ..RouteDecision::default()
    }
}

/// Routes a whole `RouteBatchRequest` (one plan snapshot for all of it) and encodes the
/// `RouteBatchResponse`; a failed item answers a decision carrying `error`. O(n decisions).
pub fn route_batch(
    plan: &Plan,
    tables: &Arc<RegionTables>,
    state: &dyn StateStore,
    batch: &RouteBatchRequest,
    now_ms: i64,
    tally: Option<&Tally>,
) -> Vec<u8> {
    let mut counts = Counts::default();
    let decisions: Vec<RouteDecision> = batch
        .requests
        .iter()
        .map(|req| {
            let r = decide_request(plan, tables, state, req, now_ms);
            counts.add(&r);
            match r {
                Ok(d) => decision_message(&d, &plan.gateway),
                Err(e) => error_message(&req.call_id, &e),
            }
        })
        .collect();
    if let Some(t) = tally {
        t.merge(counts);
    }
    RouteBatchResponse { decisions }.encode_to_vec()
}

// ---- The hot path: requests read in place, decisions written straight from `Decision`. ----
//
// The prost structs above copy every string into an owned `String` both ways; on the hot path
// the request's strings borrow its bytes and the decision is written from `Decision` itself, in
// field order with proto3's defaults left out, exactly the bytes prost (and Python) write.

/// A `RouteRequest` read in place: its strings borrow the request bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestRef<'a> {
    pub call_id: &'a str,
    pub called: &'a str,
    pub caller: &'a str,
    pub digits: &'a str,
    pub time: Option<&'a str>,
    pub explain: bool,
}

impl RequestRef<'_> {
    /// The owned message. O(len).
    pub fn to_message(&self) -> RouteRequest {
        RouteRequest {
            call_id: self.call_id.to_string(),
            called: self.called.to_string(),
            caller: self.caller.to_string(),
            digits: self.digits.to_string(),
            time: self.time.map(str::to_string),
            explain: self.explain,
        }
    }
}

fn delimited<'a>(buf: &mut &'a [u8]) -> std::result::Result<&'a [u8], String> {
    let len = prost::encoding::decode_varint(buf).map_err(|e| e.to_string())?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= buf.len())
        .ok_or("buffer underflow")?;
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn text<'a>(buf: &mut &'a [u8]) -> std::result::Result<&'a str, String> {
    std::str::from_utf8(delimited(buf)?).map_err(|_| {
        "not UTF-8 text (GBK or another legacy encoding? protobuf strings are UTF-8)".to_string()
    })
}

fn request_fields(mut buf: &[u8]) -> std::result::Result<RequestRef<'_>, String> {
    use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
    let mut req = RequestRef::default();
    while !buf.is_empty() {
        let (tag, wire) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        let expect = |want: WireType| {
            if wire == want {
                Ok(())
            } else {
                Err(format!(
                    "invalid wire type: {wire:?} (expected {want:?}) for field {tag}"
                ))
            }
        };
        match tag {
            1..=5 => {
                expect(WireType::LengthDelimited)?;
                let name = ["call_id", "called", "caller", "digits", "time"][tag as usize - 1];
                let v = text(&mut buf).map_err(|e| format!("{name}: {e}"))?;
                match tag {
                    1 => req.call_id = v,
                    2 => req.called = v,
                    3 => req.caller = v,
                    4 => req.digits = v,
                    _ => req.time = Some(v),
                }
            }
            6 => {
                expect(WireType::Varint)?;
                req.explain = decode_varint(&mut buf).map_err(|e| e.to_string())? != 0;
            }
            _ => skip_field(wire, tag, &mut buf, DecodeContext::default())
                .map_err(|e| e.to_string())?,
        }
    }
    Ok(req)
}

/// Reads a `RouteRequest` in place (no copy of its strings); the same answers as prost's
/// decoder, unknown fields skipped. O(len).
pub fn read_request(bytes: &[u8]) -> Result<RequestRef<'_>> {
    request_fields(bytes)
        .map_err(|e| Error::InvalidArgument(format!("request: not a RouteRequest: {e}")))
}

/// Reads a `RouteBatchRequest` in place. O(len).
pub fn read_batch(bytes: &[u8]) -> Result<Vec<RequestRef<'_>>> {
    use prost::encoding::{decode_key, skip_field, DecodeContext, WireType};
    let fail = |e: String| Error::InvalidArgument(format!("request: not a RouteBatchRequest: {e}"));
    let mut buf = bytes;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (tag, wire) = decode_key(&mut buf).map_err(|e| fail(e.to_string()))?;
        if tag == 1 {
            if wire != WireType::LengthDelimited {
                return Err(fail(format!(
                    "invalid wire type: {wire:?} (expected LengthDelimited) for field 1"
                )));
            }
            out.push(request_fields(delimited(&mut buf).map_err(fail)?).map_err(fail)?);
        } else {
            skip_field(wire, tag, &mut buf, DecodeContext::default())
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(out)
}

/// Decides one request read in place. The cost of [`decide`] plus the time parse.
pub fn decide_ref(
    plan: &Plan,
    tables: &Arc<RegionTables>,
    state: &dyn StateStore,
    req: &RequestRef<'_>,
    now_ms: i64,
) -> Result<Decision> {
    let time_ms = request_time(req.time, plan, now_ms)?;
    decide(
        plan,
        tables,
        state,
        &Request {
            call_id: req.call_id,
            called: req.called,
            caller: req.caller,
            digits: req.digits,
            time_ms,
            explain: req.explain,
        },
    )
}

/// Where protobuf fields go: a byte counter (the first pass, for lengths) or a buffer.
trait Out {
    fn raw(&mut self, bytes: &[u8]);
    fn varint(&mut self, v: u64);

    fn key(&mut self, tag: u32, wire: prost::encoding::WireType) {
        self.varint(u64::from((tag << 3) | wire as u32));
    }

    /// A string field (proto3: left out when empty).
    fn str(&mut self, tag: u32, v: &str) {
        if !v.is_empty() {
            self.str_always(tag, v);
        }
    }

    /// A string that is written even when empty (an element of a repeated field).
    fn str_always(&mut self, tag: u32, v: &str) {
        self.key(tag, prost::encoding::WireType::LengthDelimited);
        self.varint(v.len() as u64);
        self.raw(v.as_bytes());
    }

    fn uint(&mut self, tag: u32, v: u64) {
        if v != 0 {
            self.key(tag, prost::encoding::WireType::Varint);
            self.varint(v);
        }
    }

    fn flag(&mut self, tag: u32, v: bool) {
        self.uint(tag, u64::from(v));
    }

    fn double(&mut self, tag: u32, v: f64) {
        if v != 0.0 {
            self.key(tag, prost::encoding::WireType::SixtyFourBit);
            self.raw(&v.to_le_bytes());
        }
    }

    /// An embedded message (always written, even when empty: it is present).
    fn message(&mut self, tag: u32, m: &impl Fields) {
        self.key(tag, prost::encoding::WireType::LengthDelimited);
        self.varint(encoded_len(m) as u64);
        m.put(self);
    }
}

/// A message written field by field (to an [`Out`]).
trait Fields {
    fn put<O: Out + ?Sized>(&self, o: &mut O);
}

struct Count(usize);

impl Out for Count {
    fn raw(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    fn varint(&mut self, v: u64) {
        self.0 += prost::encoding::encoded_len_varint(v);
    }
    fn message(&mut self, tag: u32, m: &impl Fields) {
        // One walk of the embedded message, not two.
        let n = encoded_len(m);
        self.0 += prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(n as u64) + n;
    }
}

struct Write<'b, B: prost::bytes::BufMut>(&'b mut B);

impl<B: prost::bytes::BufMut> Out for Write<'_, B> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }
    fn varint(&mut self, v: u64) {
        prost::encoding::encode_varint(v, self.0);
    }
}

fn encoded_len(m: &impl Fields) -> usize {
    let mut c = Count(0);
    m.put(&mut c);
    c.0
}

/// A `RouteDecision` written from a [`Decision`], with the plan's gateway for `uri` and the
/// caller's region (looked up once).
struct DecisionFields<'a> {
    decision: &'a Decision,
    gateway: &'a str,
    region: crate::region::Region<'a>,
}

/// The bytes of a decision's `RouteDecision`, to be measured, then written.
pub struct DecisionBytes<'a>(DecisionFields<'a>);

impl<'a> DecisionBytes<'a> {
    /// O(1) (one region lookup).
    pub fn new(decision: &'a Decision, gateway: &'a str) -> Self {
        DecisionBytes(DecisionFields {
            decision,
            gateway,
            region: decision.caller.region(),
        })
    }

    /// The encoded length. O(fields).
    pub fn len(&self) -> usize {
        encoded_len(&self.0)
    }

    /// Never: a decision always has its display, caller and class.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the bytes of `decision_message(d, gateway).encode_to_vec()`, without the copies,
    /// into `buf` (which has room for [`DecisionBytes::len`]). O(size of the decision).
    pub fn write(&self, buf: &mut impl prost::bytes::BufMut) {
        self.0.put(&mut Write(buf));
    }
}

struct TargetFields<'a>(&'a crate::engine::decide::TargetOut);

impl Fields for TargetFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        let t = self.0;
        o.str(1, &t.number);
        o.str(2, &t.uri);
        o.uint(3, u64::from(t.ring_seconds));
        o.double(4, t.rate_per_minute);
    }
}

struct MenuFields<'a>(&'a crate::engine::decide::MenuOut);

impl Fields for MenuFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.str(1, &self.0.id);
        o.str(2, &self.0.prompt);
        for k in &self.0.keys {
            o.str_always(3, k);
        }
    }
}

struct RejectFields<'a>(u16, &'a str);

impl Fields for RejectFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.uint(1, u64::from(self.0));
        o.str(2, self.1);
    }
}

struct DisplayFields<'a>(&'a Decision);

impl Fields for DisplayFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.str(1, &self.0.display_name);
        o.str(2, &self.0.display_tag);
        o.flag(3, self.0.certified);
    }
}

struct CallerFields<'a>(&'a Decision, &'a crate::region::Region<'a>);

impl Fields for CallerFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        let c = &self.0.caller;
        let r = self.1;
        o.str(1, c.number.as_str());
        o.str(2, c.number.kind.as_str());
        o.str(3, r.province);
        o.str(4, r.city);
        o.str(5, r.carrier);
        o.flag(6, r.virtual_operator);
        o.str(7, r.country);
    }
}

struct ClassFields<'a>(&'a Decision);

impl Fields for ClassFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.str(1, self.0.called_class);
        for t in self.0.called_tags.iter() {
            o.str_always(2, t);
        }
    }
}

impl Fields for DecisionFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        let d = self.decision;
        o.str(1, &d.call_id);
        o.uint(2, Action::from(d.action) as u64);
        for t in &d.targets {
            o.message(3, &TargetFields(t));
        }
        o.flag(4, d.parallel);
        if let Some(m) = &d.menu {
            o.message(5, &MenuFields(m));
        }
        o.str(6, &d.prompt);
        o.str(7, &d.voicemail_box);
        if let Some((code, reason)) = &d.reject {
            o.message(8, &RejectFields(*code, reason));
        }
        o.message(9, &DisplayFields(d));
        o.message(10, &CallerFields(d, &self.region));
        o.message(11, &ClassFields(d));
        o.str(12, &d.tenant);
        o.str(13, &d.rule);
        o.str(14, &d.plan_version);
        for line in &d.trace {
            o.str_always(15, line);
        }
        // `uri` ([`first_uri`]) written in parts, without building the string.
        match d.targets.first() {
            Some(t) if !t.uri.is_empty() => o.str(17, &t.uri),
            Some(t) if !self.gateway.is_empty() => {
                o.key(17, prost::encoding::WireType::LengthDelimited);
                o.varint((5 + t.number.len() + self.gateway.len()) as u64);
                o.raw(b"sip:");
                o.raw(t.number.as_bytes());
                o.raw(b"@");
                o.raw(self.gateway.as_bytes());
            }
            _ => {}
        }
    }
}

/// The stand-in decision of a failed stream or batch item: `call_id` and `error`.
pub struct ErrorFields<'a> {
    pub call_id: &'a str,
    pub error: &'a Error,
    /// `error.to_string()`, made once.
    pub message: &'a str,
}

struct ErrorMsgFields<'a>(&'static str, &'a str);

impl Fields for ErrorMsgFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.str(1, self.0);
        o.str(2, self.1);
    }
}

impl Fields for ErrorFields<'_> {
    fn put<O: Out + ?Sized>(&self, o: &mut O) {
        o.str(1, echoed_call_id(self.call_id));
        o.message(16, &ErrorMsgFields(status_name(self.error), self.message));
    }
}

/// The encoded length of a failed item's stand-in decision (see [`write_error`]). O(len).
pub fn error_len(call_id: &str, e: &Error, message: &str) -> usize {
    encoded_len(&ErrorFields {
        call_id,
        error: e,
        message,
    })
}

/// Writes the stand-in decision of a failed item: `error_message(call_id, e)`'s bytes. O(len).
pub fn write_error(call_id: &str, e: &Error, message: &str, buf: &mut impl prost::bytes::BufMut) {
    ErrorFields {
        call_id,
        error: e,
        message,
    }
    .put(&mut Write(buf));
}

/// A batch item to write: a decision, or a failed request's call id, error and message.
type BatchItem<'a> = std::result::Result<DecisionBytes<'a>, (&'a str, &'a Error, &'a str)>;

/// Routes a batch read in place (one plan snapshot for all of it) and writes the
/// `RouteBatchResponse`; a failed item answers a decision carrying `error`. O(n decisions).
pub fn route_batch_ref(
    plan: &Plan,
    tables: &Arc<RegionTables>,
    state: &dyn StateStore,
    batch: &[RequestRef<'_>],
    now_ms: i64,
    tally: Option<&Tally>,
) -> Vec<u8> {
    let mut counts = Counts::default();
    let results: Vec<(Result<Decision>, String)> = batch
        .iter()
        .map(|req| {
            let r = decide_ref(plan, tables, state, req, now_ms);
            counts.add(&r);
            let message = r
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            (r, message)
        })
        .collect();
    if let Some(t) = tally {
        t.merge(counts);
    }
    let gateway: &str = &plan.gateway;
    // Each item measured once: its length prefixes it, and the total sizes the buffer.
    let items: Vec<(BatchItem<'_>, usize)> = results
        .iter()
        .zip(batch)
        .map(|((r, message), req)| match r {
            Ok(d) => {
                let bytes = DecisionBytes::new(d, gateway);
                let len = bytes.len();
                (Ok(bytes), len)
            }
            Err(e) => (
                Err((req.call_id, e, message.as_str())),
                error_len(req.call_id, e, message),
            ),
        })
        .collect();
    let total: usize = items
        .iter()
        .map(|(_, n)| {
            prost::encoding::key_len(1) + prost::encoding::encoded_len_varint(*n as u64) + n
        })
        .sum();
    let mut out = Vec::with_capacity(total);
    for (item, len) in &items {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(*len as u64, &mut out);
        match item {
            Ok(bytes) => bytes.write(&mut out),
            Err((call_id, e, message)) => write_error(call_id, e, message, &mut out),
        }
    }
    out
}

// ---- JSON (the HTTP twin): the proto's field names plus the top-level `uri` and `uris`. ----

#[derive(Serialize)]
struct JsonTarget<'a> {
    number: &'a str,
    uri: &'a str,
    ring_seconds: u32,
    rate_per_minute: f64,
}

#[derive(Serialize)]
struct JsonMenu<'a> {
    id: &'a str,
    prompt: &'a str,
    keys: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonReject<'a> {
    sip_code: u16,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonDisplay<'a> {
    name: &'a str,
    tag: &'a str,
    certified: bool,
}

#[derive(Serialize)]
struct JsonCaller<'a> {
    normalized: &'a str,
    kind: &'a str,
    province: &'a str,
    city: &'a str,
    carrier: &'a str,
    virtual_operator: bool,
    country: &'a str,
}

#[derive(Serialize)]
struct JsonClass<'a> {
    class: &'a str,
    tags: &'a [String],
}

#[derive(Serialize)]
struct JsonDecision<'a> {
    call_id: &'a str,
    action: &'static str,
    targets: Vec<JsonTarget<'a>>,
    parallel: bool,
    menu: Option<JsonMenu<'a>>,
    prompt: &'a str,
    voicemail_box: &'a str,
    reject: Option<JsonReject<'a>>,
    display: JsonDisplay<'a>,
    caller: JsonCaller<'a>,
    called_class: JsonClass<'a>,
    tenant: &'a str,
    rule: &'a str,
    plan_version: &'a str,
    trace: &'a [String],
    uri: String,
    uris: Vec<String>,
}

/// The decision as JSON (UTF-8): the proto's field names, `action` as its name, absent `menu`
/// and `reject` as `null`, plus the top-level `uri` ([`first_uri`]) and `uris`, the
/// [`target_uri`] of every target in order (a switch's sequential failover walks it; `uri` is
/// `uris[0]`, or "" with no target). O(size of the decision).
pub fn decision_json(d: &Decision, gateway: &str) -> Vec<u8> {
    let uris: Vec<String> = d.targets.iter().map(|t| target_uri(t, gateway)).collect();
    let c = &d.caller;
    let r = c.region();
    let doc = JsonDecision {
        call_id: &d.call_id,
        action: d.action.as_str(),
        targets: d
            .targets
            .iter()
            .map(|t| JsonTarget {
                number: &t.number,
                uri: &t.uri,
                ring_seconds: t.ring_seconds,
                rate_per_minute: t.rate_per_minute,
            })
            .collect(),
        parallel: d.parallel,
        menu: d.menu.as_ref().map(|m| JsonMenu {
            id: &m.id,
            prompt: &m.prompt,
            keys: m.keys.iter().map(AsRef::as_ref).collect(),
        }),
        prompt: &d.prompt,
        voicemail_box: &d.voicemail_box,
        reject: d.reject.as_ref().map(|(code, reason)| JsonReject {
            sip_code: *code,
            reason,
        }),
        display: JsonDisplay {
            name: &d.display_name,
            tag: &d.display_tag,
            certified: d.certified,
        },
        caller: JsonCaller {
            normalized: c.number.as_str(),
            kind: c.number.kind.as_str(),
            province: r.province,
            city: r.city,
            carrier: r.carrier,
            virtual_operator: r.virtual_operator,
            country: r.country,
        },
        called_class: JsonClass {
            class: d.called_class,
            tags: &d.called_tags,
        },
        tenant: &d.tenant,
        rule: &d.rule,
        plan_version: &d.plan_version,
        trace: &d.trace,
        uri: uris.first().cloned().unwrap_or_default(),
        uris,
    };
    // Only strings, numbers and booleans: serialising cannot fail (and rates are finite).
    serde_json::to_vec(&doc).unwrap_or_default()
}

// ---- Counters since start (`GetStats`, `/metrics`). ----

/// Decision counts of one call or one batch, merged into a [`Tally`] under one lock.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub decisions: u64,
    pub errors: u64,
    pub by_action: [u64; 5],
    pub by_tenant: HashMap<String, u64>,
    pub by_reason: HashMap<String, u64>,
    pub by_error: HashMap<&'static str, u64>,
}

impl Counts {
    /// Counts one outcome. O(1) expected.
    pub fn add(&mut self, r: &Result<Decision>) {
        match r {
            Ok(d) => {
                self.decisions += 1;
                self.by_action[d.action as usize] += 1;
                bump(&mut self.by_tenant, &d.tenant);
                if let Some((_, reason)) = &d.reject {
                    bump(&mut self.by_reason, reason);
                }
            }
            Err(e) => {
                self.errors += 1;
                *self.by_error.entry(status_name(e)).or_insert(0) += 1;
            }
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    // Look up before inserting so the common case (a known key) allocates nothing.
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else {
        map.insert(key.to_string(), 1);
    }
}

/// Thread-safe decision counters. One lock per call or per batch.
#[derive(Default, Debug)]
pub struct Tally {
    counts: Mutex<Counts>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one outcome. O(1) expected.
    pub fn add(&self, r: &Result<Decision>) {
        self.lock().add(r);
    }

    /// Adds counts gathered elsewhere (a batch). O(keys of `other`).
    pub fn merge(&self, other: Counts) {
        let mut c = self.lock();
        c.decisions += other.decisions;
        c.errors += other.errors;
        for (a, n) in c.by_action.iter_mut().zip(other.by_action) {
            *a += n;
        }
        for (k, n) in other.by_tenant {
            *c.by_tenant.entry(k).or_insert(0) += n;
        }
        for (k, n) in other.by_reason {
            *c.by_reason.entry(k).or_insert(0) += n;
        }
        for (k, n) in other.by_error {
            *c.by_error.entry(k).or_insert(0) += n;
        }
    }

    /// A copy of the counts. O(keys).
    pub fn snapshot(&self) -> Counts {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Plain counters: a panic elsewhere leaves them usable.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The action names in `Counts::by_action` order.
pub const ACTION_NAMES: [&str; 5] = ["FORWARD", "MENU", "ANNOUNCE", "VOICEMAIL", "REJECT"];

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::decide::{CallerOut, MenuOut, TargetOut};
    use crate::error::NumberError;
    use proptest::prelude::*;

    fn decision(action: ActionKind) -> Decision {
        Decision {
            call_id: "c-1".into(),
            called: crate::number::Digits::from_ascii(b"4001234567").unwrap(),
            action,
            targets: vec![
                TargetOut {
                    number: "13800000010".into(),
                    uri: "".into(),
                    ring_seconds: 20,
                    rate_per_minute: 0.2,
                },
                TargetOut {
                    number: "".into(),
                    uri: "sip:desk@10.0.0.1".into(),
                    ring_seconds: 15,
                    rate_per_minute: 0.0,
                },
            ],
            parallel: false,
            menu: None,
            prompt: "".into(),
            voicemail_box: "".into(),
            reject: None,
            display_name: "康宁诊所".into(),
            display_tag: "预约挂号".into(),
            certified: true,
            // A service caller: its region (country CN) needs no segment table in a unit test.
            caller: CallerOut {
                number: crate::number::normalize("95588", &crate::number::tests::TestCountries)
                    .unwrap(),
                tables: Arc::new(crate::region::RegionTables::default()),
            },
            called_class: "special",
            called_tags: Arc::from(vec!["ascending-7".to_string()]),
            tenant: "clinic".into(),
            rule: "open".into(),
            plan_version: "abc123".into(),
            trace: vec!["rule open holds".into()],
        }
    }

    #[test]
    fn decision_message_carries_every_field() {
        let d = decision(ActionKind::Forward);
        let m = decision_message(&d, "127.0.0.1:5070");
        assert_eq!(m.action, Action::Forward as i32);
        assert_eq!(m.call_id, "c-1");
        assert_eq!(m.targets.len(), 2);
        assert_eq!(m.targets[0].number, "13800000010");
        assert_eq!(m.targets[1].uri, "sip:desk@10.0.0.1");
        assert_eq!(m.uri, "sip:13800000010@127.0.0.1:5070");
        assert_eq!(m.display.as_ref().unwrap().name, "康宁诊所");
        assert_eq!(m.caller.as_ref().unwrap().country, "CN");
        assert_eq!(m.called_class.as_ref().unwrap().class_, "special");
        assert_eq!(m.trace, vec!["rule open holds".to_string()]);
        assert!(m.menu.is_none() && m.reject.is_none() && m.error.is_none());
    }

    #[test]
    fn uri_of_the_first_target() {
        let mut d = decision(ActionKind::Forward);
        assert_eq!(first_uri(&d, "gw"), "sip:13800000010@gw");
        assert_eq!(first_uri(&d, ""), "");
        d.targets.remove(0);
        assert_eq!(first_uri(&d, "gw"), "sip:desk@10.0.0.1");
        d.targets.clear();
        assert_eq!(first_uri(&d, "gw"), "");
    }

    #[test]
    fn json_lists_every_target_uri_in_order() {
        let d = decision(ActionKind::Forward);
        let doc: serde_json::Value = serde_json::from_slice(&decision_json(&d, "gw:5070")).unwrap();
        assert_eq!(
            doc["uris"],
            serde_json::json!(["sip:13800000010@gw:5070", "sip:desk@10.0.0.1"])
        );
        assert_eq!(doc["uri"], doc["uris"][0]);
        // No gateway: a number target has nowhere to go, its entry is "" (the URI target keeps its own).
        let doc: serde_json::Value = serde_json::from_slice(&decision_json(&d, "")).unwrap();
        assert_eq!(doc["uris"], serde_json::json!(["", "sip:desk@10.0.0.1"]));
        assert_eq!(doc["uri"], "");
        let mut none = decision(ActionKind::Reject);
        none.targets.clear();
        let doc: serde_json::Value = serde_json::from_slice(&decision_json(&none, "gw")).unwrap();
        assert_eq!(doc["uris"], serde_json::json!([]));
    }

    #[test]
    fn round_trip_through_bytes() {
        let mut d = decision(ActionKind::Menu);
        d.menu = Some(Box::new(MenuOut {
            id: "main".into(),
            prompt: "welcome".into(),
            keys: vec!["0".into(), "1".into()],
        }));
        let m = decision_message(&d, "gw");
        let back = RouteDecision::decode(m.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, m);
        let batch = RouteBatchResponse {
            decisions: vec![
                m.clone(),
                error_message("c-2", &Error::NotFound("x".into())),
            ],
        };
        let back = RouteBatchResponse::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn request_decoding_and_errors() {
        let req = RouteRequest {
            call_id: "c".into(),
            called: "4001234567".into(),
            caller: "13800138000".into(),
            digits: "1".into(),
            time: Some("2026-11-11T10:00:00+08:00".into()),
            explain: true,
        };
        assert_eq!(decode_request(&req.encode_to_vec()).unwrap(), req);
        // An absent optional `time` stays absent; an empty one is present.
        let bare = RouteRequest::default();
        assert_eq!(decode_request(&bare.encode_to_vec()).unwrap().time, None);
        let err = decode_request(&[0x0a, 0x05, b'a']).unwrap_err();
        assert_eq!(status_name(&err), "INVALID_ARGUMENT");
        assert!(err.to_string().starts_with("request: not a RouteRequest"));
    }

    #[test]
    fn error_decisions() {
        let e = Error::invalid_number("caller", NumberError::new("abc", "no digits".into()));
        let m = error_message("c-9", &e);
        assert_eq!(m.call_id, "c-9");
        assert_eq!(m.action, Action::Unspecified as i32);
        let err = m.error.unwrap();
        assert_eq!(err.code, "INVALID_ARGUMENT");
        assert!(err.message.starts_with("caller:"), "{}", err.message);
        assert_eq!(status_name(&Error::NotReady("x".into())), "UNAVAILABLE");
    }

    #[test]
    fn json_has_the_proto_names_and_uri() {
        let mut d = decision(ActionKind::Reject);
        d.reject = Some((603, "blocked".into()));
        let v: serde_json::Value = serde_json::from_slice(&decision_json(&d, "gw")).unwrap();
        assert_eq!(v["action"], "REJECT");
        assert_eq!(v["reject"]["sip_code"], 603);
        assert_eq!(v["menu"], serde_json::Value::Null);
        assert_eq!(v["called_class"]["class"], "special");
        assert_eq!(v["caller"]["normalized"], "95588");
        assert_eq!(v["caller"]["kind"], "service");
        assert_eq!(v["caller"]["country"], "CN");
        assert_eq!(v["targets"][0]["rate_per_minute"], 0.2);
        assert_eq!(v["uri"], "sip:13800000010@gw");
    }

    #[test]
    fn tally_counts_and_merges() {
        let t = Tally::new();
        let mut rej = decision(ActionKind::Reject);
        rej.reject = Some((603, "blocked".into()));
        t.add(&Ok(decision(ActionKind::Forward)));
        t.add(&Ok(rej.clone()));
        t.add(&Err(Error::NotFound("x".into())));
        let mut batch = Counts::default();
        batch.add(&Ok(rej));
        batch.add(&Err(Error::InvalidArgument("digits".into())));
        t.merge(batch);
        let c = t.snapshot();
        assert_eq!((c.decisions, c.errors), (3, 2));
        assert_eq!(c.by_action, [1, 0, 0, 0, 2]);
        assert_eq!(c.by_tenant["clinic"], 3);
        assert_eq!(c.by_reason["blocked"], 2);
        assert_eq!(c.by_error["NOT_FOUND"], 1);
        assert_eq!(c.by_error["INVALID_ARGUMENT"], 1);
    }

    fn direct(d: &Decision, gateway: &str) -> Vec<u8> {
        let bytes = DecisionBytes::new(d, gateway);
        let mut out = Vec::new();
        bytes.write(&mut out);
        assert_eq!(out.len(), bytes.len());
        out
    }

    #[test]
    fn direct_encoding_is_the_messages_bytes() {
        let mut d = decision(ActionKind::Forward);
        for gateway in ["127.0.0.1:5070", ""] {
            assert_eq!(
                direct(&d, gateway),
                decision_message(&d, gateway).encode_to_vec()
            );
        }
        d.targets.swap(0, 1); // a SIP target first: its own URI
        d.menu = Some(Box::new(MenuOut {
            id: "main".into(),
            prompt: "welcome".into(),
            keys: vec!["0".into(), "".into()],
        }));
        d.reject = Some((603, "骚扰".into()));
        d.trace.push(String::new());
        d.targets[1].rate_per_minute = 0.0;
        d.targets[1].ring_seconds = 0;
        assert_eq!(direct(&d, "gw"), decision_message(&d, "gw").encode_to_vec());
        d.targets.clear();
        d.certified = false;
        d.display_name = "".into();
        d.display_tag = "".into();
        d.trace.clear();
        assert_eq!(direct(&d, "gw"), decision_message(&d, "gw").encode_to_vec());

        let e = Error::NotFound("no such number".into());
        let message = e.to_string();
        let mut out = Vec::new();
        write_error("c-2", &e, &message, &mut out);
        assert_eq!(out.len(), error_len("c-2", &e, &message));
        assert_eq!(out, error_message("c-2", &e).encode_to_vec());
    }

    #[test]
    fn requests_read_in_place() {
        let req = RouteRequest {
            call_id: "c".into(),
            called: "4001234567".into(),
            caller: "13800138000".into(),
            digits: "1".into(),
            time: Some(String::new()),
            explain: true,
        };
        let bytes = req.encode_to_vec();
        let got = read_request(&bytes).unwrap();
        assert_eq!(got.time, Some(""));
        assert_eq!(got.to_message(), req);
        let batch = RouteBatchRequest {
            requests: vec![req.clone(), RouteRequest::default(), req],
        };
        let bytes = batch.encode_to_vec();
        let got: Vec<RouteRequest> = read_batch(&bytes)
            .unwrap()
            .iter()
            .map(RequestRef::to_message)
            .collect();
        assert_eq!(got, batch.requests);
        let err = read_request(&[0x0a, 0x05, b'a']).unwrap_err();
        assert!(err.to_string().starts_with("request: not a RouteRequest"));
        let err = read_batch(&[0x08, 0x01]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("request: not a RouteBatchRequest"));
        // Not UTF-8, a wrong wire type: refused as prost refuses them.
        assert!(read_request(&[0x12, 0x01, 0xff]).is_err());
        assert!(read_request(&[0x10, 0x01]).is_err());
        // An unknown field is skipped.
        assert_eq!(
            read_request(&[0x50, 0x07, 0x12, 0x01, b'4'])
                .unwrap()
                .called,
            "4"
        );
    }

    proptest! {
        #[test]
        fn direct_encoding_matches_for_any_fields(
            call_id in ".{0,12}", prompt in ".{0,8}", tenant in ".{0,8}", gateway in ".{0,8}",
            numbers in proptest::collection::vec(("[0-9]{0,12}", "(sip:.{0,8})?", any::<u32>(),
                prop_oneof![Just(0.0), Just(-0.0), any::<f64>()]), 0..4),
            keys in proptest::option::of(proptest::collection::vec("[0-9*#]{0,2}", 0..4)),
            reject in proptest::option::of((any::<u16>(), ".{0,6}")),
            trace in proptest::collection::vec(".{0,10}", 0..3), certified: bool, parallel: bool,
        ) {
            let mut d = decision(ActionKind::Voicemail);
            d.call_id = call_id;
            d.prompt = prompt.into();
            d.tenant = tenant.into();
            d.parallel = parallel;
            d.certified = certified;
            d.trace = trace;
            d.targets = numbers.into_iter().map(|(number, uri, ring_seconds, rate_per_minute)| TargetOut {
                number: number.into(), uri: uri.into(), ring_seconds, rate_per_minute,
            }).collect();
            d.menu = keys.map(|keys| Box::new(MenuOut {
                id: "m".into(), prompt: "".into(), keys: keys.into_iter().map(Into::into).collect(),
            }));
            d.reject = reject.map(|(code, reason)| (code, reason.into()));
            prop_assert_eq!(direct(&d, &gateway), decision_message(&d, &gateway).encode_to_vec());
        }

        #[test]
        fn reading_in_place_agrees_with_prost(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            match (read_request(&bytes), RouteRequest::decode(bytes.as_slice())) {
                (Ok(got), Ok(want)) => prop_assert_eq!(got.to_message(), want),
                (Err(_), Err(_)) => {}
                (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
            }
            match (read_batch(&bytes), RouteBatchRequest::decode(bytes.as_slice())) {
                (Ok(got), Ok(want)) => {
                    let got: Vec<RouteRequest> = got.iter().map(RequestRef::to_message).collect();
                    prop_assert_eq!(got, want.requests);
                }
                (Err(_), Err(_)) => {}
                (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
            }
        }

        #[test]
        fn any_request_round_trips(
            call_id in ".{0,20}", called in "[0-9+ -]{0,20}", caller in ".{0,20}",
            digits in "[0-9*#T]{0,8}", time in proptest::option::of(".{0,30}"), explain: bool,
        ) {
            let req = RouteRequest { call_id, called, caller, digits, time, explain };
            prop_assert_eq!(decode_request(&req.encode_to_vec()).unwrap(), req);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_request(&bytes);
            let _ = decode_batch(&bytes);
        }
    }
}
