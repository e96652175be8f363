//! Renders to an rgba8uint texture: a full-screen triangle (vertex buffer) writes each pixel's
//! coordinates, then an indexed draw under a scissor rectangle overwrites a square. The guest
//! prints a fingerprint of the pixels and a few of them.
use guests::gpu::*;

struct Command;

const SIZE: u32 = 64;

const SHADER: &str = "
struct Out { @builtin(position) pos: vec4<f32>, @location(0) @interpolate(flat) tag: u32 };
@vertex fn vs(@location(0) p: vec2<f32>, @location(1) tag: u32) -> Out {
    return Out(vec4<f32>(p, 0.0, 1.0), tag);
}
@fragment fn fs(v: Out) -> @location(0) vec4<u32> {
    let x = u32(v.pos.x);
    let y = u32(v.pos.y);
    if v.tag == 1u { return vec4<u32>(200u, 100u, 50u, 255u); }
    return vec4<u32>(x, y, x ^ y, 255u);
}
";

fn vertex(x: f32, y: f32, tag: u32) -> Vec<u8> {
    [x.to_le_bytes(), y.to_le_bytes(), tag.to_le_bytes()].concat()
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let format = GpuTextureFormat::Rgba8uint;
        let target = guests::texture(
            &device,
            guests::extent(SIZE, SIZE, 1),
            format,
            GpuTextureUsage::RENDER_ATTACHMENT | GpuTextureUsage::COPY_SRC,
            1,
        );
        let view = target.create_view(None);
        // A full-screen triangle (tag 0), then a quad as two indexed triangles (tag 1).
        let vertices = [
            vertex(-1.0, -1.0, 0), vertex(3.0, -1.0, 0), vertex(-1.0, 3.0, 0),
            vertex(-1.0, -1.0, 1), vertex(1.0, -1.0, 1), vertex(1.0, 1.0, 1), vertex(-1.0, 1.0, 1),
        ]
        .concat();
        let vbuf = guests::buffer_with(&device, GpuBufferUsage::VERTEX, &vertices);
        let indices: Vec<u8> = [3u16, 4, 5, 3, 5, 6].iter().flat_map(|i| i.to_le_bytes()).collect();
        let ibuf = guests::buffer_with(&device, GpuBufferUsage::INDEX, &indices);
        let layout = GpuVertexBufferLayout {
            array_stride: 12,
            step_mode: Some(GpuVertexStepMode::Vertex),
            attributes: vec![
                GpuVertexAttribute { format: GpuVertexFormat::Float32x2, offset: 0, shader_location: 0 },
                GpuVertexAttribute { format: GpuVertexFormat::Uint32, offset: 8, shader_location: 1 },
            ],
        };
        let module = guests::shader(&device, SHADER);
        let pipeline = guests::render_pipeline(&device, &module, format, Some(vec![Some(layout)]));
        let encoder = device.create_command_encoder(None);
        let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
        pass.set_pipeline(&pipeline);
        pass.set_vertex_buffer(0, Some(&vbuf), None, None);
        pass.draw(3, None, None, None);
        pass.set_scissor_rect(16, 8, 24, 12);
        pass.set_index_buffer(&ibuf, GpuIndexFormat::Uint16, None, None);
        pass.draw_indexed(6, None, None, None, None);
        pass.end();
        device.queue().submit(&[&encoder.finish(None)]);
        let pixels = guests::read_texture(&device, &target, 0, 0, SIZE, SIZE).await;
        let px = |x: u32, y: u32| {
            let i = ((y * SIZE + x) * 4) as usize;
            format!("{:?}", &pixels[i..i + 4])
        };
        println!("render: {}x{} fnv={:016x}", SIZE, SIZE, guests::fnv1a(&pixels));
        println!("render: (0,0)={} (63,63)={} (20,10)={} (39,19)={} (40,20)={}", px(0, 0), px(63, 63), px(20, 10), px(39, 19), px(40, 20));
        Ok(())
    }
}

guests::export_command!(Command);
