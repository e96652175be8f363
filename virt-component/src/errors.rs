//! Errors the virt reports itself (quota's out-of-memory), delivered as WebGPU delivers errors:
//! to the innermost error scope of their filter, else to every `on-uncaptured-error` stream.
//!
//! The virt keeps a copy of each device's scope stack; every push and pop still reaches the
//! runtime. When the virt reports an error into a scope that has not had one from it yet, it
//! pushes one more scope of that filter on the runtime ("a split"), so the runtime's errors from
//! before the virt's stay in the application's scope and those after go to the split. At pop, a
//! runtime error from before the split comes first (WebGPU keeps a scope's first error), else the
//! virt's, and the split is popped and dropped: what it caught came later.

use crate::bindings::wit_stream;
use crate::{GpuDevice, GpuError, exp, imp};
use futures::StreamExt;
use futures::channel::mpsc;
use std::cell::RefCell;
use wit_bindgen::rt::async_support::StreamReader;

/// A device's error scopes and uncaptured-error listeners, as the application sees them.
#[derive(Default)]
pub struct Scopes {
    stack: RefCell<Vec<Scope>>,
    listeners: RefCell<Vec<mpsc::UnboundedSender<exp::GpuError>>>,
}

struct Scope {
    filter: exp::GpuErrorFilter,
    /// The first error the virt reported into this scope; a split scope sits above it on the
    /// runtime from then on.
    reported: Option<(exp::GpuErrorKind, String)>,
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
    let scopes = &device.errors;
    let filter = filter_of(kind);
    let mut stack = scopes.stack.borrow_mut();
    if let Some(scope) = stack.iter_mut().rev().find(|s| s.filter == filter) {
        if scope.reported.is_none() {
            device.inner.push_error_scope(filter);
            scope.reported = Some((kind, message));
        }
        return;
    }
    drop(stack);
    // Uncaptured: every listener gets it; with none, it goes nowhere (a browser would log it).
    scopes.listeners.borrow_mut().retain(|l| {
        let error = exp::GpuError::new(GpuError::Local { kind, message: message.clone() });
        l.unbounded_send(error).is_ok()
    });
}

pub fn push_error_scope(device: &GpuDevice, filter: exp::GpuErrorFilter) {
    device.errors.stack.borrow_mut().push(Scope { filter, reported: None });
    device.inner.push_error_scope(filter);
}

pub async fn pop_error_scope(device: &GpuDevice) -> Result<Option<exp::GpuError>, exp::PopErrorScopeError> {
    let host = |e: Option<imp::GpuError>| e.map(|e| exp::GpuError::new(GpuError::Host(e)));
    let scope = device.errors.stack.borrow_mut().pop();
    let Some(Scope { reported: Some((kind, message)), .. }) = scope else {
        // No scope of the virt's (the runtime says what popping an empty stack is) or nothing
        // reported into it: the runtime's scope is the application's.
        return device.inner.pop_error_scope().await.map(host);
    };
    // The split first: what it caught came after the virt's error.
    let _later = device.inner.pop_error_scope().await;
    let earlier = device.inner.pop_error_scope().await?;
    Ok(Some(host(earlier).unwrap_or_else(|| exp::GpuError::new(GpuError::Local { kind, message }))))
}

pub fn on_uncaptured_error(device: &GpuDevice) -> StreamReader<exp::GpuError> {
    let (tx, rx) = mpsc::unbounded();
    device.errors.listeners.borrow_mut().push(tx.clone());
    // The runtime's errors and the virt's go through one channel into the application's stream.
    let mut runtime = device.inner.on_uncaptured_error();
    crate::bridge::spawn(async move {
        while let Some(e) = runtime.next().await {
            if tx.unbounded_send(exp::GpuError::new(GpuError::Host(e))).is_err() {
                return;
            }
        }
        // The runtime's stream ended (the device is lost): so does the application's.
        tx.close_channel();
    });
    let (mut writer, reader) = wit_stream::new::<exp::GpuError>();
    crate::bridge::spawn(async move {
        let mut rx = rx;
        while let Some(e) = rx.next().await {
            if writer.write_one(e).await.is_some() {
                break;
            }
        }
    });
    reader
}
