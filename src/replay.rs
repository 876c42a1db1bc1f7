//! Replays a JSON Lines trace of host calls through the real sampler on a
//! virtual clock, so a bug report becomes a deterministic test case. The
//! trace format and the tick rules are the contract's ("The replay trace").
//!
//! One extension beyond the contract's ops: `{"op":"writer","stall":true}`
//! holds events in the writer's bounded queue (as a stuck disk would) until
//! `{"op":"writer","stall":false}`, to reproduce window merging.

use crate::counters::Counters;
use crate::interface::{is_cellular, InterfaceKind};
use crate::labels::{label_id, LabelNames};
use crate::queue::{Pending, PendingQueue};
pub use crate::sampler::Event;
use crate::sampler::Sampler;
use serde_json::{Map, Value};
use std::io::BufRead;

/// The logger's queue size at the default intervals (upstream's 110 for
/// 100 ms polls and 10 s writes), used by `writer` stalls.
pub const DEFAULT_QUEUE_CAPACITY: usize =
    crate::queue::capacity_for(crate::config::DEFAULT_WRITE_INTERVAL, crate::config::DEFAULT_POLL_INTERVAL);

/// Why a trace could not be replayed. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ReplayError {
    /// The offending line.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// One parsed trace step.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Enable,
    Disable,
    Add { label: u8, tx: u64, rx: u64 },
    Totals { label: u8, tx: u64, rx: u64 },
    Interface { name: String, kind: InterfaceKind },
    Register { label: u32, name: String },
    Writer { stall: bool },
    End,
}

/// Replays a trace, returning every event in order.
pub fn replay(input: impl BufRead, poll_ms: u64, queue_capacity: usize) -> Result<Vec<Event>, ReplayError> {
    if poll_ms == 0 {
        return Err(ReplayError { line: 0, message: "poll interval must be at least 1 ms".into() });
    }
    let counters = Counters::default();
    let labels = LabelNames::default();
    let mut sampler = Sampler::new(poll_ms);
    let mut out = Vec::new();
    let mut stalled: Option<PendingQueue> = None;
    let mut last_at = 0u64;

    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| ReplayError { line: line_no, message };
        let line = line.map_err(|e| err(format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let (at, op) = parse_step(&line).map_err(err)?;
        if at < last_at {
            return Err(err(format!("`at` went backwards: {at} after {last_at}")));
        }
        last_at = at;

        let mut emit = |ev: Event, stalled: &mut Option<PendingQueue>| match stalled {
            Some(q) => q.push(Pending::Event(ev)),
            None => out.push(ev),
        };
        sampler.run_ticks(at, false, &counters, |ev| emit(ev, &mut stalled));
        let was_cellular = sampler.is_cellular();
        match op {
            Op::Enable => sampler.enable(at, &counters),
            Op::Disable | Op::End => {
                if let Some(ev) = sampler.disable(at, &counters) {
                    emit(ev, &mut stalled);
                }
            }
            Op::Add { label, tx, rx } => {
                counters.add(label, tx, rx);
                sampler.wake_on_traffic(at, &counters);
            }
            Op::Totals { label, tx, rx } => {
                counters.set_totals(label, tx, rx);
                sampler.wake_on_traffic(at, &counters);
            }
            Op::Interface { name, kind } => {
                let cellular = is_cellular(&name, kind);
                if let Some(ev) = sampler.set_cellular(at, cellular, &counters) {
                    emit(ev, &mut stalled);
                }
                // As the engine does: a stalled queue never merges across a flip.
                if let Some(q) = stalled.as_mut().filter(|_| cellular != was_cellular) {
                    q.note_flip();
                }
            }
            Op::Register { label, name } => labels.register(label, &name).map_err(|e| err(e.to_string()))?,
            Op::Writer { stall: true } => {
                stalled.get_or_insert_with(|| PendingQueue::new(queue_capacity, crate::queue::MAX_PENDING_BYTES));
            }
            Op::Writer { stall: false } => {
                if let Some(mut q) = stalled.take() {
                    out.extend(q.take().into_iter().filter_map(|p| match p {
                        Pending::Event(e) => Some(e),
                        Pending::Object(_) => None,
                    }));
                }
            }
        }
    }
    if let Some(mut q) = stalled {
        out.extend(q.take().into_iter().filter_map(|p| match p {
            Pending::Event(e) => Some(e),
            Pending::Object(_) => None,
        }));
    }
    Ok(out)
}

fn parse_step(line: &str) -> Result<(u64, Op), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("a step must be a JSON object")?;
    let at = obj.get("at").and_then(Value::as_u64).ok_or("missing or non-integer `at`")?;
    let op = obj.get("op").and_then(Value::as_str).ok_or("missing `op`")?;
    let op = match op {
        "enable" => Op::Enable,
        "disable" => Op::Disable,
        "end" => Op::End,
        "add" => {
            let (label, tx, rx) = label_tx_rx(obj)?;
            Op::Add { label, tx, rx }
        }
        "totals" => {
            let (label, tx, rx) = label_tx_rx(obj)?;
            Op::Totals { label, tx, rx }
        }
        "interface" => {
            let name = obj.get("name").and_then(Value::as_str).ok_or("`interface` needs a string `name`")?;
            let kind = match obj.get("kind") {
                None => InterfaceKind::Unknown,
                Some(k) => k
                    .as_str()
                    .and_then(InterfaceKind::parse)
                    .ok_or("`kind` must be one of cellular, wifi, wired, other, none, unknown")?,
            };
            Op::Interface { name: name.to_string(), kind }
        }
        "register" => {
            let label = field_u64(obj, "label")?;
            let label = u32::try_from(label).map_err(|_| format!("label {label} is above 255"))?;
            label_id(label).map_err(|e| e.to_string())?;
            let name = obj.get("name").and_then(Value::as_str).ok_or("`register` needs a string `name`")?;
            Op::Register { label, name: name.to_string() }
        }
        "writer" => {
            let stall = obj.get("stall").and_then(Value::as_bool).ok_or("`writer` needs a boolean `stall`")?;
            Op::Writer { stall }
        }
        other => return Err(format!("unknown op `{other}`")),
    };
    Ok((at, op))
}

fn field_u64(obj: &Map<String, Value>, key: &str) -> Result<u64, String> {
    obj.get(key).and_then(Value::as_u64).ok_or_else(|| format!("missing or non-integer `{key}`"))
}

fn label_tx_rx(obj: &Map<String, Value>) -> Result<(u8, u64, u64), String> {
    let label = field_u64(obj, "label")?;
    let label = u8::try_from(label).map_err(|_| format!("label {label} is above 255"))?;
    Ok((label, field_u64(obj, "tx")?, field_u64(obj, "rx")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(trace: &str) -> Vec<String> {
        replay(trace.as_bytes(), 100, DEFAULT_QUEUE_CAPACITY)
            .unwrap()
            .iter()
            .map(|e| {
                let mut s = String::new();
                crate::wire::encode_event(e, &mut s);
                s
            })
            .collect()
    }

    #[test]
    fn the_contracts_reset_example_reports_50_plus_20() {
        let out = run(r#"{"at":0,"op":"totals","label":3,"tx":100,"rx":0}
{"at":0,"op":"enable"}
{"at":10,"op":"totals","label":3,"tx":150,"rx":0}
{"at":20,"op":"totals","label":3,"tx":20,"rx":0}
{"at":100,"op":"end"}"#);
        assert_eq!(out, [r#"{"t":0,"d":100,"s":{"3":[70,0]}}"#]);
    }

    #[test]
    fn malformed_steps_name_the_line() {
        let cases = [
            ("{\"at\":0,\"op\":\"enable\"}\nnot json", 2, "not JSON"),
            ("{\"at\":5,\"op\":\"enable\"}\n\n{\"at\":4,\"op\":\"disable\"}", 3, "went backwards"),
            ("{\"at\":0,\"op\":\"add\",\"label\":256,\"tx\":1,\"rx\":1}", 1, "label 256 is above 255"),
            ("{\"at\":0,\"op\":\"add\",\"label\":1,\"tx\":-1,\"rx\":1}", 1, "`tx`"),
            ("{\"at\":0,\"op\":\"fly\"}", 1, "unknown op"),
            ("{\"op\":\"enable\"}", 1, "`at`"),
            ("[1]", 1, "JSON object"),
            ("{\"at\":0,\"op\":\"interface\",\"name\":\"x\",\"kind\":\"lte\"}", 1, "`kind`"),
            ("{\"at\":0,\"op\":\"register\",\"label\":300,\"name\":\"x\"}", 1, "above 255"),
        ];
        for (trace, line, needle) in cases {
            let e = replay(trace.as_bytes(), 100, 10).unwrap_err();
            assert_eq!(e.line, line, "{trace}");
            assert!(e.message.contains(needle), "{trace}: {}", e.message);
        }
    }
}
