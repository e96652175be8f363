/// Print the adapter this host would use (what `request-adapter` with no options returns).
#[derive(clap::Args)]
pub struct Adapter {}

impl Adapter {
    pub fn exec(self) -> anyhow::Result<i32> {
        let ctx = host_test::WebGpuCtx::new();
        let adapter = super::runtime()?.block_on(ctx.instance().request_adapter(&Default::default()));
        match adapter {
            Ok(adapter) => {
                let info = adapter.get_info();
                println!("{} ({:?}, {:?}; driver: {} {})", info.name, info.backend, info.device_type, info.driver, info.driver_info);
                Ok(0)
            }
            Err(e) => {
                eprintln!("no GPU adapter: {e}");
                Ok(1)
            }
        }
    }
}
