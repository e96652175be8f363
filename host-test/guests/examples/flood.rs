//! Submits far more work than a virt with `--max-in-flight 2` lets through at once, without
//! waiting in between, and checks that nothing changed but the pace: queue order (each
//! submission copies the value a `write-buffer` just before it wrote), a buffer destroyed and an
//! unmap made behind held submissions, and the error scopes that a held submission's errors go
//! to. It prints the same lines direct and through any virt.
use guests::gpu::*;

struct Command;

/// Submissions in the flood.
const SUBMITS: u32 = 16;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let queue = device.queue();
        let usage = GpuBufferUsage::COPY_SRC | GpuBufferUsage::COPY_DST;
        let source = guests::buffer(&device, 4, usage);
        let log = guests::buffer(&device, u64::from(SUBMITS) * 4, usage);
        let doomed = guests::buffer(&device, 4, usage);

        // The flood: write i, then a submission that copies it to log[i]. A submission whose
        // write came after it (or before the one of the submission ahead) logs another value.
        for i in 0..SUBMITS {
            queue.write_buffer_with_copy(&source, 0, &i.to_le_bytes(), None, None).expect("write-buffer");
            let encoder = device.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&source, Some(0), &log, Some(u64::from(i) * 4), Some(4));
            if i == SUBMITS - 1 {
                encoder.copy_buffer_to_buffer(&source, Some(0), &doomed, Some(0), Some(4));
            }
            queue.submit(&[&encoder.finish(None)]);
        }
        // Destroyed after the submission that uses it: that submission is still valid.
        let (_, e) = guests::caught(&device, || doomed.destroy()).await;
        println!("destroying a buffer the last submission used: {e}");
        queue.on_submitted_work_done().await;
        let logged = guests::u32s(&guests::read_buffer(&device, &log, 0, u64::from(SUBMITS) * 4).await);
        let in_order = logged.iter().enumerate().all(|(i, v)| *v == i as u32);
        println!("{SUBMITS} submissions logged in order: {in_order}");

        // A buffer mapped at creation, unmapped behind held work, then used by a submission.
        let staged = device.create_buffer(&GpuBufferDescriptor { size: 4, usage, mapped_at_creation: Some(true), label: None });
        staged.get_mapped_range_set_with_copy(&7u32.to_le_bytes(), None, None).expect("set the mapped range");
        for _ in 0..4 {
            queue.submit(&[&device.create_command_encoder(None).finish(None)]);
        }
        staged.unmap().expect("unmap");
        let encoder = device.create_command_encoder(None);
        encoder.copy_buffer_to_buffer(&staged, Some(0), &log, Some(0), Some(4));
        queue.submit(&[&encoder.finish(None)]);
        let first = guests::u32s(&guests::read_buffer(&device, &log, 0, 4).await);
        println!("a buffer unmapped behind held submissions, copied: {first:?}");

        // Errors of submissions held back go to the scopes open when they were made: a command
        // buffer submitted twice is a validation error of the second submission.
        let twice = device.create_command_encoder(None).finish(None);
        for _ in 0..4 {
            queue.submit(&[&device.create_command_encoder(None).finish(None)]);
        }
        device.push_error_scope(GpuErrorFilter::Validation);
        queue.submit(&[&twice]);
        queue.submit(&[&twice]);
        device.push_error_scope(GpuErrorFilter::Validation);
        queue.submit(&[&device.create_command_encoder(None).finish(None)]);
        let inner = device.pop_error_scope().await.expect("pop-error-scope");
        let outer = device.pop_error_scope().await.expect("pop-error-scope");
        let kind = |e: Option<GpuError>| e.map_or("no error", |e| guests::kind_name(&e.kind()));
        println!("submitting a command buffer twice: {}; in a scope pushed after: {}", kind(outer), kind(inner));
        Ok(())
    }
}

guests::export_command!(Command);
