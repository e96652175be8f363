//! The GPU memory a trace's calls held over time, counted as the quota counts it
//! (`webgpu_virt_config::memory`): a buffer its size, a texture its blocks over all levels,
//! layers and samples, a query set 8 bytes a query; from the call that makes the object to its
//! `destroy`, its drop or its device's `destroy`, whichever comes first. Objects made on a
//! destroyed device cost nothing, and so do those the runtime (or a quota) refused, where the
//! trace shows it: the creation was the only call in an error scope whose pop found an error.
//! (An error that went uncaptured cannot be told from the trace to be a creation's: such an
//! object is counted.) The figures are worked out once the whole trace is read ([`Memory::finish`]).

use super::Value;
use std::collections::{HashMap, HashSet};
use webgpu_virt_config::memory::{Dimension, block_of, query_set_bytes, texture_bytes};
use wit_parser::Function;

/// What the calls of a trace held.
#[derive(Default)]
pub struct Memory {
    /// Objects that cost memory: id -> (device, bytes).
    live: HashMap<u64, (u64, u64)>,
    /// Objects being made, until their call's result names them: call -> (device, bytes).
    making: HashMap<u64, (u64, u64)>,
    /// The objects made, by the call that made them.
    made: HashMap<u64, u64>,
    destroyed: HashSet<u64>,
    /// Each device's open error scopes.
    scopes: HashMap<u64, Vec<Scope>>,
    /// Scopes popped whose result is still to come: by the pop's call.
    popping: HashMap<u64, Scope>,
    /// Objects the runtime refused: they hold nothing.
    refused: HashSet<u64>,
    /// Every change, in order: (calls made so far, object, bytes taken (or given back if not)).
    events: Vec<(u64, u64, u64, bool)>,
    /// Bytes held at the end (once the trace is read).
    pub held: u64,
    /// The most held at once, and how many calls had been made then.
    pub peak: (u64, u64),
    /// Every change: (calls made so far, bytes held).
    pub changes: Vec<(u64, u64)>,
}

/// An error scope open in the trace: the calls made in it, and the creations among them.
#[derive(Default)]
struct Scope {
    calls: u32,
    creations: Vec<u64>,
}

impl Memory {
    /// Call number `call` of `function`, with its arguments.
    pub(crate) fn call(&mut self, call: u64, function: &Function, args: &[Value<'_>]) {
        let Some(&Value::Object(_, this)) = args.first() else { return };
        match function.name.as_str() {
            "[method]gpu-device.push-error-scope" => return self.scopes.entry(this).or_default().push(Scope::default()),
            "[method]gpu-device.pop-error-scope" => {
                if let Some(scope) = self.scopes.get_mut(&this).and_then(Vec::pop) {
                    self.popping.insert(call, scope);
                }
                return;
            }
            _ => self.scopes.values_mut().flatten().for_each(|s| s.calls += 1),
        }
        let descriptor = args.get(1);
        let cost = match function.name.as_str() {
            "[method]gpu-device.create-buffer" => descriptor.and_then(|d| number(d.field("size")?)),
            "[method]gpu-device.create-texture" => descriptor.and_then(texture),
            "[method]gpu-device.create-query-set" => descriptor.and_then(|d| Some(query_set_bytes(u32::try_from(number(d.field("count")?)?).ok()?))),
            "[method]gpu-buffer.destroy" | "[method]gpu-texture.destroy" | "[method]gpu-query-set.destroy" => {
                self.release(call + 1, |id, _| id == this);
                None
            }
            "[method]gpu-device.destroy" => {
                self.destroyed.insert(this);
                self.release(call + 1, |_, device| device == this);
                None
            }
            _ => None,
        };
        if let Some(bytes) = cost.filter(|_| !self.destroyed.contains(&this)) {
            self.making.insert(call, (this, bytes));
            self.scopes.get_mut(&this).into_iter().flatten().for_each(|s| s.creations.push(call));
        }
    }

    /// What call number `call` returned.
    pub(crate) fn returned(&mut self, call: u64, result: &Value<'_>) {
        if let Some(scope) = self.popping.remove(&call) {
            // `ok(some(error))`: the scope caught an error; if a creation was all it held, the
            // error is that creation's.
            let caught = result.inner().and_then(Value::inner).is_some();
            if let ([creation], true, 1) = (&scope.creations[..], caught, scope.calls)
                && let Some(object) = self.made.get(creation)
            {
                self.refused.insert(*object);
            }
            return;
        }
        let Some((device, bytes)) = self.making.remove(&call) else { return };
        let object = match result {
            Value::Object(_, id) => *id,
            other => match other.inner() {
                Some(Value::Object(_, id)) => *id,
                _ => return,
            },
        };
        if object != 0 && self.live.insert(object, (device, bytes)).is_none() {
            self.made.insert(call, object);
            self.events.push((call + 1, object, bytes, true));
        }
    }

    /// The application dropped `object`, after `calls` calls.
    pub(crate) fn dropped(&mut self, calls: u64, object: u64) {
        self.release(calls, |id, _| id == object);
    }

    fn release(&mut self, calls: u64, which: impl Fn(u64, u64) -> bool) {
        let gone: Vec<u64> = self.live.iter().filter(|(id, (device, _))| which(**id, *device)).map(|(id, _)| *id).collect();
        for id in gone {
            let (_, bytes) = self.live.remove(&id).expect("a live object");
            self.events.push((calls, id, bytes, false));
        }
    }

    /// The trace is read: what was held, over time, of the objects the runtime gave.
    pub(crate) fn finish(&mut self) {
        let (mut held, mut peak, mut changes) = (0u64, (0, 0), Vec::new());
        for &(calls, _, bytes, taken) in self.events.iter().filter(|(_, object, _, _)| !self.refused.contains(object)) {
            held = if taken { held.saturating_add(bytes) } else { held.saturating_sub(bytes) };
            changes.push((calls, held));
            if held > peak.0 {
                peak = (held, calls);
            }
        }
        (self.held, self.peak, self.changes) = (held, peak, changes);
    }

    /// At most `n` of the changes, evenly spaced, the last among them.
    pub fn over_time(&self, n: usize) -> Vec<(u64, u64)> {
        let len = self.changes.len();
        if len <= n {
            return self.changes.clone();
        }
        (1..=n).map(|i| self.changes[i * len / n - 1]).collect()
    }
}

fn number(v: &Value<'_>) -> Option<u64> {
    match v {
        Value::Unsigned(n) => Some(*n),
        _ => None,
    }
}

/// A texture descriptor's bytes.
fn texture(d: &Value<'_>) -> Option<u64> {
    let optional = |v: Option<&Value<'_>>| match v.and_then(Value::inner) {
        Some(v) => number(v).and_then(|n| u32::try_from(n).ok()),
        None => Some(1),
    };
    let size = d.field("size")?;
    let width = u32::try_from(number(size.field("width")?)?).ok()?;
    let extents = [width, optional(size.field("height"))?, optional(size.field("depth-or-array-layers"))?];
    let dimension = match d.field("dimension").and_then(Value::inner) {
        Some(Value::Case("d1", None)) => Dimension::D1,
        Some(Value::Case("d3", None)) => Dimension::D3,
        _ => Dimension::D2,
    };
    let Value::Case(format, None) = d.field("format")? else { return None };
    let block = block_of(format)?;
    Some(texture_bytes(block, dimension, extents, optional(d.field("mip-level-count"))?, optional(d.field("sample-count"))?))
}
