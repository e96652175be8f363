//! Errors the virt reports itself (quota's out-of-memory), delivered as WebGPU delivers errors:
//! to the innermost error scope of their filter, else to every `on-uncaptured-error` stream.
//!
//! The virt keeps a copy of each device's scope stack; every push and pop still reaches the
//! runtime. When the virt reports an error into a scope that has not had one from it yet, it
//! pushes one more scope of that filter on the runtime ("a split"), so the runtime's errors from
//! before the virt's stay in the application's scope and those after go to the split. At pop, a
//! runtime error from before the split comes first (WebGPU keeps a scope's first error), else the
//! virt's, and the split is popped and dropped: what it caught came later.
//!
//! On a host device that virtual devices share (`crate::device`), scopes are the virt's alone:
//! a device's scopes pushed from then on (all of them, for a device that joined a shared host
//! device) are *virtual*: they never reach the runtime, and what the calls' brackets catch is
//! reported into them here. Scopes pushed before the host device was shared stay on the
//! runtime until popped; what they caught came first.
//!
//! An error the virt reports that no scope catches and no stream listens to is *undelivered*:
//! a browser would log it to its console, and the runtime logs its own. The virt counts them per
//! guest with the last one's words (its stats), and with `log-errors` writes each to the
//! operator's console (`crate::console`) as it happens.
//!
//! Work the virt held back and forwards later (`super::timeline`) reports its errors to the
//! scopes open when the application made the call ([`Mark`]): to the innermost of those of the
//! error's filter still open, else as uncaptured.
//!
//! This file keeps the scopes and delivers errors; the calls that push and pop them and listen
//! for errors are the device's (`super`).

use crate::hooks::Counter;
use crate::{GpuDevice, GpuError, config, exp, imp};
use futures::channel::mpsc;
use std::cell::{Cell, RefCell};

/// One error scope of each filter, in the order the virt pushes them around a call of its own.
pub const FILTERS: [exp::GpuErrorFilter; 3] = [exp::GpuErrorFilter::Validation, exp::GpuErrorFilter::OutOfMemory, exp::GpuErrorFilter::Internal];

/// The value of a future that is ready at its first poll: a runtime's `pop-error-scope`, where it
/// completes at once (see `Host::instant_pops`). A synchronous call may poll nothing else: an
/// import's future that is pending there has no task to wait in.
pub fn at_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        std::task::Poll::Ready(value) => Some(value),
        std::task::Poll::Pending => None,
    }
}

/// Runs `make` inside error scopes of the virt's own on `device` (one of each filter), whose
/// pops must complete at once (`Host::instant_pops`): what it made, and the first error the
/// runtime reported for it.
pub fn caught<T>(device: &imp::GpuDevice, make: impl FnOnce() -> T) -> (T, Option<(exp::GpuErrorKind, String)>) {
    for filter in FILTERS {
        device.push_error_scope(filter);
    }
    let made = make();
    let mut error = None;
    for _ in FILTERS {
        if let Some(Ok(Some(e))) = at_once(device.pop_error_scope()) {
            error = error.or(Some((e.kind(), e.message())));
        }
    }
    (made, error)
}

/// A device's error scopes and uncaptured-error listeners, as the application sees them.
#[derive(Default)]
pub struct Scopes {
    stack: RefCell<Vec<Scope>>,
    /// Each with its number: how many listeners the device had before it.
    listeners: RefCell<Vec<(u64, mpsc::UnboundedSender<exp::GpuError>)>>,
    listened: Cell<u64>,
    pushed: Cell<u64>,
    /// Whether new scopes are virtual (the host device is shared).
    virtual_: Cell<bool>,
    /// Whether the device is lost: its streams have ended.
    ended: Cell<bool>,
    /// Whether its streams end with the runtime's (its host device was destroyed with it).
    with_runtime: Cell<bool>,
    /// The guest whose device it is (0 in front of one application).
    tenant: Cell<u32>,
}

/// A guest's undelivered errors: how many, and the last one's kind and message.
#[derive(Default)]
struct Undelivered {
    count: u64,
    last: Option<(exp::GpuErrorKind, String)>,
}

thread_local! {
    static UNDELIVERED: std::cell::RefCell<Vec<Undelivered>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The stats of undelivered errors: per guest, the count, and the last one's words in a
/// counter's name (its value is its number among them).
pub fn counters() -> Vec<(&'static str, Counter)> {
    let mut out = Vec::new();
    UNDELIVERED.with_borrow(|all| {
        for (tenant, u) in all.iter().enumerate().filter(|(_, u)| u.count > 0) {
            let prefix = config::guest_prefix(tenant as u32);
            out.push(("errors", Counter { name: format!("{prefix}undelivered"), value: u.count }));
            if let Some((kind, message)) = &u.last {
                let name = format!("{prefix}last undelivered: {}: {message}", kind_name(*kind));
                out.push(("errors", Counter { name, value: u.count }));
            }
        }
    });
    if crate::console::cut() > 0 {
        out.push(("errors", Counter { name: "log lines cut".into(), value: crate::console::cut() }));
    }
    out
}

/// An error kind's name in the WIT.
fn kind_name(kind: exp::GpuErrorKind) -> &'static str {
    match kind {
        exp::GpuErrorKind::ValidationError => "validation-error",
        exp::GpuErrorKind::OutOfMemoryError => "out-of-memory-error",
        exp::GpuErrorKind::InternalError => "internal-error",
    }
}

/// An error of `tenant` reached no scope and no listener. Its message is kept, and written, on
/// one line.
fn undelivered(tenant: u32, kind: exp::GpuErrorKind, message: &str) {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let message = message.as_str();
    UNDELIVERED.with_borrow_mut(|all| {
        let at = tenant as usize;
        if all.len() <= at {
            all.resize_with(at + 1, Undelivered::default);
        }
        all[at].count += 1;
        all[at].last = Some((kind, message.to_string()));
    });
    if config::pod().log_errors {
        let guest = config::guest_prefix(tenant);
        crate::console::write(&format!("webgpu-virt: {guest}uncaptured {}: {message}", kind_name(kind)));
    }
}

pub struct Scope {
    /// The scope's number among the device's pushes.
    id: u64,
    filter: exp::GpuErrorFilter,
    /// The first error the virt reported into this scope.
    pub reported: Option<(exp::GpuErrorKind, String)>,
    /// Whether a split scope sits above it on the runtime (pushed with the report).
    pub split: bool,
    /// Whether it was pushed on the runtime too (else it is the virt's alone).
    pub forwarded: bool,
}

/// The application's open scopes and its listeners at one moment: where the errors of a call
/// made then belong (a listener added later does not hear of them).
#[derive(Clone, PartialEq, Eq)]
pub struct Mark {
    scopes: Vec<u64>,
    listeners: u64,
}

impl Scopes {
    pub fn mark(&self) -> Mark {
        Mark { scopes: self.stack.borrow().iter().map(|s| s.id).collect(), listeners: self.listened.get() }
    }

    /// The device is `tenant`'s.
    pub fn belong_to(&self, tenant: u32) {
        self.tenant.set(tenant);
    }

    /// Makes the scopes pushed from now on virtual (or not).
    pub fn set_virtual(&self, on: bool) {
        self.virtual_.set(on);
    }

    /// Whether the errors of this device's calls are attributed by the virt.
    pub fn is_virtual(&self) -> bool {
        self.virtual_.get()
    }

    /// Pushes a scope of `filter`: whether it goes to the runtime too (it does unless the
    /// device's scopes are virtual).
    pub fn push(&self, filter: exp::GpuErrorFilter) -> bool {
        let id = self.pushed.get() + 1;
        self.pushed.set(id);
        let forwarded = !self.virtual_.get();
        self.stack.borrow_mut().push(Scope { id, filter, reported: None, split: false, forwarded });
        forwarded
    }

    /// Pops the innermost scope.
    pub fn pop(&self) -> Option<Scope> {
        self.stack.borrow_mut().pop()
    }

    /// Adds a listener for uncaptured errors (closed at once on a lost device).
    pub fn listen(&self, listener: mpsc::UnboundedSender<exp::GpuError>) {
        match self.ended.get() {
            true => listener.close_channel(),
            false => {
                self.listeners.borrow_mut().push((self.listened.get(), listener));
                self.listened.set(self.listened.get() + 1);
            }
        }
    }

    /// Whether the device is lost: its streams have ended.
    pub fn is_ended(&self) -> bool {
        self.ended.get()
    }

    /// The device is lost: its uncaptured-error streams end (or, once the runtime's device was
    /// destroyed with it, each when the runtime's stream that feeds it ends).
    pub fn end(&self) {
        self.ended.set(true);
        let listeners = self.listeners.take();
        if !self.with_runtime.get() {
            for (_, listener) in listeners {
                listener.close_channel();
            }
        }
    }

    /// The runtime's device is destroyed with this one: each uncaptured-error stream (fed by the
    /// runtime's, on a host device that is not shared) ends when the runtime's does, after the
    /// errors it reported before the destroy.
    pub fn end_with_runtime(&self) {
        self.with_runtime.set(true);
    }
}

fn filter_of(kind: exp::GpuErrorKind) -> exp::GpuErrorFilter {
    match kind {
        exp::GpuErrorKind::ValidationError => exp::GpuErrorFilter::Validation,
        exp::GpuErrorKind::OutOfMemoryError => exp::GpuErrorFilter::OutOfMemory,
        exp::GpuErrorKind::InternalError => exp::GpuErrorFilter::Internal,
    }
}

/// Reports an error of the virt's own on `device`.
pub fn report(device: &GpuDevice, kind: exp::GpuErrorKind, message: String) {
    report_to(&device.inner, &device.errors, None, kind, message);
}

/// Reports an error on the device `runtime` whose application scopes are `scopes`: to the
/// innermost open scope of its filter, among those of `mark` if given, else as uncaptured.
pub fn report_to(runtime: &imp::GpuDevice, scopes: &Scopes, mark: Option<&Mark>, kind: exp::GpuErrorKind, message: String) {
    let filter = filter_of(kind);
    let mut stack = scopes.stack.borrow_mut();
    let fits = |s: &Scope| s.filter == filter && mark.is_none_or(|m| m.scopes.contains(&s.id));
    if let Some(at) = stack.iter().rposition(fits) {
        // A split goes on top of the runtime's stack, so only the innermost scope of all can
        // have one. Under a newer scope of the same filter, the runtime's later errors go to
        // that one: none is needed. Under a newer scope of another filter, none is possible (it
        // would sit above that scope, whose pop would take it): the runtime's later errors of
        // this filter join this scope, and the pop's first error, of this filter all the same,
        // may be one of them.
        let innermost = at + 1 == stack.len();
        let scope = &mut stack[at];
        if scope.reported.is_none() {
            // With virtual scopes the runtime's later errors are caught by the calls' brackets
            // and come here too: no split is needed.
            if innermost && scope.forwarded && !scopes.virtual_.get() {
                runtime.push_error_scope(filter);
                scope.split = true;
            }
            scope.reported = Some((kind, message));
        }
        return;
    }
    drop(stack);
    // Uncaptured: every listener that was there when the call was made gets it; with none, it
    // is undelivered.
    let mut delivered = false;
    scopes.listeners.borrow_mut().retain(|(number, l)| {
        if mark.is_some_and(|m| *number >= m.listeners) {
            return true;
        }
        let error = exp::GpuError::new(GpuError::Local { kind, message: message.clone() });
        let sent = l.unbounded_send(error).is_ok();
        delivered |= sent;
        sent
    });
    if !delivered && !scopes.ended.get() {
        undelivered(scopes.tenant.get(), kind, &message);
    }
}

