//! Copies between buffers and textures, write-texture, clear-buffer, and copy-texture-to-texture
//! with origins; the guest prints what arrives.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let queue = device.queue();
        let format = GpuTextureFormat::Rgba8unorm;
        let usage = GpuTextureUsage::COPY_SRC | GpuTextureUsage::COPY_DST;
        let a = guests::texture(&device, guests::extent(8, 8, 1), format, usage, 1);
        let b = guests::texture(&device, guests::extent(8, 8, 1), format, usage, 1);

        // Buffer -> texture: an 8x8 gradient, rows padded to 256 bytes.
        let mut rows = vec![0u8; 256 * 8];
        for y in 0..8u8 {
            for x in 0..8u8 {
                let i = y as usize * 256 + x as usize * 4;
                rows[i..i + 4].copy_from_slice(&[x, y, x * y, 255]);
            }
        }
        let src = guests::buffer_with(&device, GpuBufferUsage::COPY_SRC, &rows);
        let encoder = device.create_command_encoder(None);
        encoder.copy_buffer_to_texture(
            &GpuTexelCopyBufferInfo { buffer: &src, offset: None, bytes_per_row: Some(256), rows_per_image: None },
            &guests::at(&a, 0, 0, 0, 0),
            guests::extent(8, 8, 1),
        );
        // Texture -> texture: the top-left 4x4 of `a` to (4,4) of `b`.
        encoder.copy_texture_to_texture(&guests::at(&a, 0, 0, 0, 0), &guests::at(&b, 0, 4, 4, 0), guests::extent(4, 4, 1));
        queue.submit(&[&encoder.finish(None)]);
        let pa = guests::read_texture(&device, &a, 0, 0, 8, 8).await;
        let pb = guests::read_texture(&device, &b, 0, 0, 8, 8).await;
        println!("buffer->texture fnv={:016x} texel(3,5)={:?}", guests::fnv1a(&pa), &pa[(5 * 8 + 3) * 4..(5 * 8 + 3) * 4 + 4]);
        println!("texture->texture texel(5,6)={:?} texel(0,0)={:?}", &pb[(6 * 8 + 5) * 4..(6 * 8 + 5) * 4 + 4], &pb[0..4]);

        // write-texture with a data offset and tight rows.
        let mut data = vec![0xEEu8; 4];
        data.extend((0..2 * 2 * 4).map(|i| i as u8));
        queue.write_texture_with_copy(
            &guests::at(&b, 0, 0, 0, 0),
            &data,
            GpuTexelCopyBufferLayout { offset: Some(4), bytes_per_row: Some(8), rows_per_image: None },
            guests::extent(2, 2, 1),
        );
        let pb = guests::read_texture(&device, &b, 0, 0, 8, 8).await;
        println!("write-texture row0={:?} row1={:?}", &pb[0..8], &pb[32..40]);

        // Buffer -> buffer and clear-buffer.
        let words = guests::buffer_with(&device, GpuBufferUsage::COPY_SRC | GpuBufferUsage::COPY_DST, &guests::bytes_of(&[1, 2, 3, 4, 5, 6, 7, 8]));
        let dst = guests::buffer_with(&device, GpuBufferUsage::COPY_SRC | GpuBufferUsage::COPY_DST, &[0xFF; 32]);
        let encoder = device.create_command_encoder(None);
        encoder.copy_buffer_to_buffer(&words, Some(8), &dst, Some(4), Some(12));
        encoder.clear_buffer(&dst, Some(24), None);
        queue.submit(&[&encoder.finish(None)]);
        println!("buffer->buffer + clear: {:?}", guests::u32s(&guests::read_buffer(&device, &dst, 0, 32).await));
        Ok(())
    }
}

guests::export_command!(Command);
