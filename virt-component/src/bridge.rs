//! Futures and streams across the virt, and the resources the virt can make itself.
//!
//! A future or stream the application reads from the virt is fed by a task that reads the
//! runtime's. Such tasks must outlive the (synchronous) call that creates them, which a task
//! spawned there would not: so the first async call into the virt starts a pump task, which
//! lives as long as the instance, and the synchronous calls hand their tasks to it.

use crate::bindings::{wit_future, wit_stream};
use crate::{exp, imp};
use futures::StreamExt;
use futures::channel::mpsc;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use wit_bindgen::rt::async_support::{FutureReader, StreamReader};

type Job = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    static PUMP: RefCell<Option<mpsc::UnboundedSender<Job>>> = const { RefCell::new(None) };
}

/// Starts the pump if it is not running. Called at the start of every async export.
pub fn ensure_pump() {
    PUMP.with(|pump| {
        let mut pump = pump.borrow_mut();
        if pump.as_ref().is_some_and(|tx| !tx.is_closed()) {
            return;
        }
        let (tx, mut rx) = mpsc::unbounded::<Job>();
        wit_bindgen::spawn_local(async move {
            while let Some(job) = rx.next().await {
                wit_bindgen::spawn_local(job);
            }
        });
        *pump = Some(tx);
    });
}

/// Runs `job` on the pump.
pub fn spawn(job: impl Future<Output = ()> + 'static) {
    let job: Job = Box::pin(job);
    let left = PUMP.with(|pump| match pump.borrow().as_ref() {
        Some(tx) => tx.unbounded_send(job).err().map(|e| e.into_inner()),
        None => Some(job),
    });
    // No pump yet: no async call has reached the virt, so no device exists whose future or
    // stream this could be. Spawn it in place all the same.
    if let Some(job) = left {
        wit_bindgen::spawn_local(job);
    }
}

/// A value of a future's payload type to deliver if the future's writer were dropped unwritten.
pub trait Placeholder {
    fn placeholder() -> Self;
}

/// The export-side future reading `src` and converting its value (shown to the policies as what
/// the current call's future resolved to).
pub fn future<I: 'static, E: wit_future::FuturePayload + crate::encode::Recorded>(
    src: FutureReader<I>,
    conv: impl FnOnce(I) -> E + 'static,
    default: fn() -> E,
) -> FutureReader<E> {
    let (tx, rx) = wit_future::new::<E>(default);
    let call = crate::ids::current_call();
    spawn(async move {
        let value = conv(src.await);
        crate::hooks::resolved(call, &value);
        let _ = tx.write(value).await;
    });
    rx
}

/// The export-side stream reading `src` and converting each item. (The one stream of this WIT,
/// `on-uncaptured-error`, is taken over by the virtual-device layer; the generator uses this for others.)
#[allow(dead_code)]
pub fn stream<I: 'static, E: wit_stream::StreamPayload>(
    mut src: StreamReader<I>,
    conv: impl Fn(I) -> E + 'static,
) -> StreamReader<E> {
    let (mut tx, rx) = wit_stream::new::<E>();
    spawn(async move {
        while let Some(item) = src.next().await {
            if tx.write_one(conv(item)).await.is_some() {
                // The reader is gone.
                break;
            }
        }
    });
    rx
}

/// `gpu-error`: the runtime's, or one the virt reports itself.
pub enum GpuError {
    Host(imp::GpuError),
    Local { kind: exp::GpuErrorKind, message: String },
}

impl From<imp::GpuError> for GpuError {
    fn from(e: imp::GpuError) -> Self {
        Self::Host(e)
    }
}

impl exp::GuestGpuError for GpuError {
    fn message(&self) -> String {
        match self {
            Self::Host(e) => e.message(),
            Self::Local { message, .. } => message.clone(),
        }
    }

    fn kind(&self) -> exp::GpuErrorKind {
        match self {
            Self::Host(e) => e.kind(),
            Self::Local { kind, .. } => *kind,
        }
    }
}

/// `gpu-device-lost-info`: the runtime's, or one the virt reports itself.
pub enum GpuDeviceLostInfo {
    Host(imp::GpuDeviceLostInfo),
    Local { reason: exp::GpuDeviceLostReason, message: String },
}

impl From<imp::GpuDeviceLostInfo> for GpuDeviceLostInfo {
    fn from(info: imp::GpuDeviceLostInfo) -> Self {
        Self::Host(info)
    }
}

impl exp::GuestGpuDeviceLostInfo for GpuDeviceLostInfo {
    fn reason(&self) -> exp::GpuDeviceLostReason {
        match self {
            Self::Host(i) => i.reason(),
            Self::Local { reason, .. } => *reason,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Host(i) => i.message(),
            Self::Local { message, .. } => message.clone(),
        }
    }
}

impl Placeholder for exp::GpuDeviceLostInfo {
    fn placeholder() -> Self {
        let message = "the virt could not carry the device's loss".to_string();
        exp::GpuDeviceLostInfo::new(GpuDeviceLostInfo::Local { reason: exp::GpuDeviceLostReason::Unknown, message })
    }
}

/// The handles of errors and device-loss information are recorded as what they hold.
impl crate::encode::Recorded for exp::GpuError {
    fn record(&self, o: &mut crate::encode::Out) {
        self.get::<GpuError>().record(o);
    }
}

impl crate::encode::Recorded for exp::GpuDeviceLostInfo {
    fn record(&self, o: &mut crate::encode::Out) {
        self.get::<GpuDeviceLostInfo>().record(o);
    }
}

/// Errors and device-loss information are recorded by value: kind (or reason), then message.
impl crate::encode::Recorded for GpuError {
    fn record(&self, o: &mut crate::encode::Out) {
        use exp::GuestGpuError as _;
        o.uleb(self.kind() as u64);
        o.string(&self.message());
    }
}

impl crate::encode::Recorded for GpuDeviceLostInfo {
    fn record(&self, o: &mut crate::encode::Out) {
        use exp::GuestGpuDeviceLostInfo as _;
        o.uleb(self.reason() as u64);
        o.string(&self.message());
    }
}
