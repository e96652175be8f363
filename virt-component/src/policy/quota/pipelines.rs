//! The cap on live pipelines (`max-objects = { pipelines = N }`), compute and render together.
//!
//! A pipeline over the cap is not made on the application's device. WebGPU's answer to a
//! pipeline that cannot be made for want of resources is an internal error, so:
//! `create-*-pipeline-async` rejects with an internal pipeline error, and `create-*-pipeline`
//! hands out an invalid pipeline and reports an internal error to the application's error scope
//! or uncaptured-error stream.
//!
//! The invalid pipeline comes from the device's *graveyard*: a second device that the virt asks
//! the same adapter for when the application's device is made, and destroys at once, with an
//! error scope of every filter left open on it. What is made on a lost device is invalid, costs
//! the runtime nothing and reports nothing (WebGPU reports no errors on a lost device; the open
//! scopes keep anything a runtime reports anyway). Any use of such a pipeline on the
//! application's device, `set-pipeline` in a pass or a bundle, is the runtime's own validation
//! error when the commands are finished, exactly as with a pipeline that failed to compile.

use super::{Charge, Kind};
use crate::{GpuAdapter, GpuComputePipeline, GpuDevice, GpuRenderPipeline, exp};
use std::cell::OnceCell;

/// A device's graveyard: where its refused pipelines are made (see the module docs).
#[derive(Default)]
pub struct Graveyard(OnceCell<Box<GpuDevice>>);

/// Whether a cap on pipelines is configured for the tenant of `device` (then each of its
/// devices gets a graveyard).
fn capped(device: &GpuDevice) -> bool {
    crate::tenant::policy(device.device).max_objects.pipelines.is_some()
}

/// Gives `device` its graveyard, made from `adapter`, when pipelines are capped.
pub async fn prepare(adapter: &GpuAdapter, device: &GpuDevice) -> Result<(), String> {
    if !capped(device) {
        return Ok(());
    }
    let dead = adapter.inner.request_device(None).await.map_err(|e| e.message)?;
    for filter in [exp::GpuErrorFilter::Validation, exp::GpuErrorFilter::OutOfMemory, exp::GpuErrorFilter::Internal] {
        dead.push_error_scope(filter);
    }
    dead.destroy();
    // The graveyard's objects belong to the application's device: its id, not a fresh one.
    let graveyard = Box::new(GpuDevice::wrap(dead, device.device));
    if device.graveyard.0.set(graveyard).is_err() {
        return Err("the device already has a graveyard".into());
    }
    Ok(())
}

/// Where a device's refused pipelines are made: its graveyard (every device has one when
/// pipelines are capped; without one, the device itself, so that nothing is lost).
fn graveyard(device: &GpuDevice) -> &GpuDevice {
    device.graveyard.0.get().map_or(device, |g| g)
}

/// The same `create-*-pipeline` for compute and render pipelines.
macro_rules! create {
    ($sync:ident, $forward:ident, $async:ident, $forward_async:ident, $descriptor:ident, $pipeline:ident, $chunked:path) => {
        pub fn $sync(device: &GpuDevice, descriptor: exp::$descriptor<'_>) -> exp::$pipeline {
            let forward = |d| {
                let pending = $chunked(device, &d);
                let made = device.$forward(d);
                pending.made(&made);
                made
            };
            super::objects::counted(device, Kind::Pipeline, descriptor, forward, super::objects::parts!($pipeline), |d| {
                graveyard(device).$forward(d)
            })
        }

        pub async fn $async(
            device: &GpuDevice,
            descriptor: exp::$descriptor<'_>,
        ) -> Result<exp::$pipeline, exp::CreatePipelineError> {
            // On a lost device WebGPU resolves with an (invalid) pipeline, never an error: a
            // virtual device on a pooled host device that lives on makes it at once.
            if crate::device::is_lost(device.device) {
                let bracket = crate::device::share::bracket(device.device);
                let pipeline = $sync(device, descriptor);
                drop(bracket);
                return Ok(pipeline);
            }
            match Charge::new(device.device, Kind::Pipeline, 0) {
                // Charged before the runtime is asked, so that creations in flight count too.
                Ok(charge) => {
                    let pending = $chunked(device, &descriptor);
                    let made = device.$forward_async(descriptor).await?;
                    pending.made(&made);
                    made.get::<$pipeline>().quota.charge.set(charge);
                    Ok(made)
                }
                Err(refusal) => {
                    super::refused(device.device);
                    let kind = exp::CreatePipelineErrorKind::GpuPipelineError(exp::GpuPipelineErrorReason::Internal);
                    Err(exp::CreatePipelineError { kind, message: refusal.message })
                }
            }
        }
    };
}

create!(
    create_compute_pipeline,
    forward_create_compute_pipeline,
    create_compute_pipeline_async,
    forward_create_compute_pipeline_async,
    GpuComputePipelineDescriptor,
    GpuComputePipeline,
    crate::device::chunks::compute_pipeline
);
create!(
    create_render_pipeline,
    forward_create_render_pipeline,
    create_render_pipeline_async,
    forward_create_render_pipeline_async,
    GpuRenderPipelineDescriptor,
    GpuRenderPipeline,
    crate::device::draws::render_pipeline
);
