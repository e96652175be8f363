//! `gpu`, `gpu-adapter`, `gpu-adapter-info`, supported features and WGSL language features,
//! and `request-device`.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::convert;
use crate::objects::*;
use crate::state::DeviceState;
use std::sync::Arc;
use crate::{WebGpu, WebGpuCtxView, WebGpuView, limits};
use wasmtime::component::{Accessor, Resource};

/// Held while wgpu enumerates adapters (see `request_adapter`).
static ENUMERATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl<T: WebGpuView + 'static> w::HostGpuWithStore<T> for WebGpu {
    async fn request_adapter(
        accessor: &Accessor<T, Self>,
        _this: Resource<Gpu>,
        options: Option<w::GpuRequestAdapterOptions>,
    ) -> wasmtime::Result<Option<Resource<Adapter>>> {
        let options = options.unwrap_or(w::GpuRequestAdapterOptions {
            feature_level: None,
            power_preference: None,
            force_fallback_adapter: None,
            xr_compatible: None,
        });
        // WebGPU: an unknown feature level gives no adapter. "compatibility" may be answered
        // with a core adapter.
        if let Some(level) = &options.feature_level
            && level != "core"
            && level != "compatibility"
        {
            return Ok(None);
        }
        let instance = accessor.with(|mut a| a.get().ctx.instance.clone());
        let request = wgpu::RequestAdapterOptions {
            power_preference: options.power_preference.map(convert::power_preference).unwrap_or_default(),
            force_fallback_adapter: options.force_fallback_adapter.unwrap_or(false),
            compatible_surface: None,
            apply_limit_buckets: false,
        };
        // One thread at a time: wgpu-hal 30's EGL adapter enumeration makes its context current
        // on the calling thread, and panics (`BadAccess`) when another thread does the same at
        // once, as concurrent requests of `webgpu-virt serve` do.
        let enumerating = ENUMERATING.lock().await;
        let adapter = instance.request_adapter(&request).await;
        drop(enumerating);
        let Ok(adapter) = adapter else {
            return Ok(None);
        };
        accessor.with(|mut a| Ok(Some(a.get().table.push(Adapter { adapter })?)))
    }
}

impl w::HostGpu for WebGpuCtxView<'_> {
    fn get_preferred_canvas_format(&mut self, _this: Resource<Gpu>) -> wasmtime::Result<w::GpuTextureFormat> {
        // What browsers answer on every desktop platform but Android.
        Ok(w::GpuTextureFormat::Bgra8unorm)
    }

    fn wgsl_language_features(&mut self, _this: Resource<Gpu>) -> wasmtime::Result<Resource<WgslLanguageFeatures>> {
        use wgpu::WgslLanguageFeatures as L;
        let have = self.ctx.instance.wgsl_language_features();
        let names = [
            (L::ReadOnlyAndReadWriteStorageTextures, "readonly_and_readwrite_storage_textures"),
            (L::Packed4x8IntegerDotProduct, "packed_4x8_integer_dot_product"),
            (L::UnrestrictedPointerParameters, "unrestricted_pointer_parameters"),
            (L::PointerCompositeAccess, "pointer_composite_access"),
        ]
        .into_iter()
        .filter(|(f, _)| have.contains(f.clone()))
        .map(|(_, n)| n)
        .collect();
        Ok(self.table.push(WgslLanguageFeatures { names })?)
    }

    fn drop(&mut self, this: Resource<Gpu>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// The WebGPU names of the features a wgpu adapter or device has.
pub(crate) fn feature_names(features: wgpu::Features, compliant: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> =
        convert::FEATURES.iter().filter(|(_, f)| features.contains(*f)).map(|(n, _)| *n).collect();
    if compliant {
        names.insert(0, "core-features-and-limits");
    }
    names
}

fn is_compliant(adapter: &wgpu::Adapter) -> bool {
    adapter.get_downlevel_capabilities().is_webgpu_compliant()
}

impl w::HostGpuAdapter for WebGpuCtxView<'_> {
    fn features(&mut self, this: Resource<Adapter>) -> wasmtime::Result<Resource<SupportedFeatures>> {
        let adapter = &self.table.get(&this)?.adapter;
        let names = feature_names(adapter.features(), is_compliant(adapter));
        Ok(self.table.push(SupportedFeatures { names })?)
    }

    fn limits(&mut self, this: Resource<Adapter>) -> wasmtime::Result<Resource<SupportedLimits>> {
        let limits = self.table.get(&this)?.adapter.limits();
        Ok(self.table.push(SupportedLimits { limits })?)
    }

    fn info(&mut self, this: Resource<Adapter>) -> wasmtime::Result<Resource<AdapterInfo>> {
        let info = self.table.get(&this)?.adapter.get_info();
        Ok(self.table.push(AdapterInfo { info })?)
    }

    fn drop(&mut self, this: Resource<Adapter>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

fn device_error(kind: w::RequestDeviceErrorKind, message: String) -> w::RequestDeviceError {
    w::RequestDeviceError { kind, message }
}

impl<T: WebGpuView + 'static> w::HostGpuAdapterWithStore<T> for WebGpu {
    async fn request_device(
        accessor: &Accessor<T, Self>,
        this: Resource<Adapter>,
        descriptor: Option<w::GpuDeviceDescriptor>,
    ) -> wasmtime::Result<Result<Resource<Device>, w::RequestDeviceError>> {
        let (adapter, descriptor, required_limits) = accessor.with(|mut a| {
            let view = a.get();
            let adapter = view.table.get(&this)?.adapter.clone();
            let mut descriptor = descriptor;
            // The record is an owned handle: take it out of the table whatever happens next.
            let required_limits = match descriptor.as_mut().and_then(|d| d.required_limits.take()) {
                Some(record) => view.table.delete(record)?.entries,
                None => Vec::new(),
            };
            wasmtime::Result::<_>::Ok((adapter, descriptor, required_limits))
        })?;
        let (features, label, queue_label) = match &descriptor {
            Some(d) => (
                d.required_features.clone().unwrap_or_default(),
                d.label.clone().unwrap_or_default(),
                d.default_queue.as_ref().and_then(|q| q.label.clone()).unwrap_or_default(),
            ),
            None => Default::default(),
        };

        let mut required_features = wgpu::Features::empty();
        for feature in features {
            let supported = match convert::feature(feature) {
                Some(f) if adapter.features().contains(f) => {
                    required_features |= f;
                    true
                }
                Some(_) => false,
                None => feature == w::GpuFeatureName::CoreFeaturesAndLimits && is_compliant(&adapter),
            };
            if !supported {
                let message = format!("the adapter does not support the feature {feature:?}");
                return Ok(Err(device_error(w::RequestDeviceErrorKind::TypeError, message)));
            }
        }
        let required_limits = match limits::for_request(&adapter.limits(), &required_limits) {
            Ok(l) => l,
            Err(message) => return Ok(Err(device_error(w::RequestDeviceErrorKind::OperationError, message))),
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some(&label),
            required_features,
            required_limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::default(),
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = match adapter.request_device(&desc).await {
            Ok(pair) => pair,
            Err(e) => {
                let message = format!("the adapter could not create a device: {e}");
                return Ok(Err(device_error(w::RequestDeviceErrorKind::OperationError, message)));
            }
        };
        let lingering = accessor.with(|mut a| a.get().ctx.lingering());
        let state = DeviceState::install(&device, &queue, queue_label, lingering);
        lose_later(&state);
        let features = feature_names(device.features(), is_compliant(&adapter));
        let device = Device { device, queue, state, adapter_info: adapter.get_info(), features, label };
        accessor.with(|mut a| {
            let view = a.get();
            view.ctx.stats.devices += 1;
            view.ctx.stats.devices_held += 1;
            view.ctx.made(&device.state);
            Ok(Ok(view.table.push(device)?))
        })
    }
}

/// Fault injection, for testing what a guest (or the virt) does when the runtime loses a device:
/// with `WEBGPU_HOST_LOSE_DEVICES_AFTER_MS=N` set, every device is lost N ms after it is made
/// (reason `unknown`), as when a GPU resets.
fn lose_later(state: &Arc<DeviceState>) {
    let Some(ms) = std::env::var("WEBGPU_HOST_LOSE_DEVICES_AFTER_MS").ok().and_then(|v| v.parse().ok()) else { return };
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        state.lose(w::GpuDeviceLostReason::Unknown, "the host lost the device (WEBGPU_HOST_LOSE_DEVICES_AFTER_MS)".into());
    });
}

impl w::HostGpuAdapterInfo for WebGpuCtxView<'_> {
    fn vendor(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<String> {
        let info = &self.table.get(&this)?.info;
        Ok(vendor_name(info.vendor).map_or_else(|| format!("0x{:04x}", info.vendor), str::to_string))
    }

    fn architecture(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<String> {
        let info = &self.table.get(&this)?.info;
        Ok(format!("{:?}", info.device_type).to_lowercase())
    }

    fn device(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<String> {
        Ok(format!("0x{:04x}", self.table.get(&this)?.info.device))
    }

    fn description(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<String> {
        let info = &self.table.get(&this)?.info;
        Ok(format!("{} ({:?}, {} {})", info.name, info.backend, info.driver, info.driver_info).trim().to_string())
    }

    fn subgroup_min_size(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.info.subgroup_min_size)
    }

    fn subgroup_max_size(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.info.subgroup_max_size)
    }

    fn is_fallback_adapter(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.info.device_type == wgpu::DeviceType::Cpu)
    }

    fn drop(&mut self, this: Resource<AdapterInfo>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// The lower-case vendor names WebGPU implementations report for well-known PCI vendor ids.
fn vendor_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0x1002 | 0x1022 => "amd",
        0x10de => "nvidia",
        0x8086 => "intel",
        0x13b5 => "arm",
        0x5143 => "qualcomm",
        0x106b => "apple",
        0x1010 => "imgtec",
        0x10005 => "mesa",
        _ => return None,
    })
}

impl w::HostGpuSupportedFeatures for WebGpuCtxView<'_> {
    fn has(&mut self, this: Resource<SupportedFeatures>, value: String) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.names.contains(&value.as_str()))
    }

    fn drop(&mut self, this: Resource<SupportedFeatures>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostWgslLanguageFeatures for WebGpuCtxView<'_> {
    fn has(&mut self, this: Resource<WgslLanguageFeatures>, value: String) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.names.contains(&value.as_str()))
    }

    fn drop(&mut self, this: Resource<WgslLanguageFeatures>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
