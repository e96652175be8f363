//! Dispatch chunks: compute entry points rewritten so that one dispatch can run as several
//! smaller ones, one after another, each seeing the ids of the whole.
//!
//! A dispatch is one piece of work that nothing can interrupt. To bound how long each piece
//! runs, a large dispatch can be made as a series of chunks, boxes of its workgroups. A chunk's
//! invocations would see the ids of a small dispatch of their own; [`chunked`] makes each
//! compute entry point that reads `workgroup_id`, `global_invocation_id` or `num_workgroups`
//! read them through *the chunk's place*, a uniform at binding [`PLACE_BINDING`] of a group the
//! caller reserves:
//! - `[0].xyz`: where the chunk starts, in workgroups of the whole dispatch;
//! - `[1].xyz`: the whole dispatch's size, or zeros when it is not in chunks.
//!
//! The builtin parameter is renamed, and a `let` of its old name at the start of the body gives
//! the value of the whole: `workgroup_id` plus the start, `global_invocation_id` plus the start
//! times the workgroup size (the entry point's own `@workgroup_size`), `num_workgroups` as the
//! larger of its own and the whole's. A chunk's place and the workgroup id are uniform, so
//! nothing becomes non-uniform. An entry point that reads none of the three needs no place:
//! its chunks already do what its whole dispatch does.
//!
//! As in [`crate::bound`], nothing moves to another line: a renamed parameter stays where it
//! was, the `let`s follow the body's opening brace, and the place is declared after the last
//! line. A builtin inside a structure's member is not followed ([`Unfollowed::BuiltinInStruct`]).

use super::{Token, Unfollowed, lex, pair, skip_attributes, unused_name};

/// The binding of the chunk's place in its group.
pub const PLACE_BINDING: u32 = 0;

/// The size of the chunk's place in bytes: two `vec4<u32>`.
pub const PLACE_SIZE: u64 = 32;

/// A shader after [`chunked`]: its source and its compute entry points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    pub code: String,
    /// Every compute entry point of the shader, in order.
    pub entries: Vec<Entry>,
}

/// A compute entry point of a [`Chunked`] shader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Whether it reads the chunk's place (a pipeline of it then needs the reserved group).
    pub reads_place: bool,
}

/// The builtins whose values differ between a chunk and its whole dispatch.
const WHOLE: [&str; 3] = ["workgroup_id", "global_invocation_id", "num_workgroups"];

/// Rewrites the compute entry points of `source` to read the chunk's place, declared at
/// `@group(group) @binding(PLACE_BINDING)`. `Ok` with the source unchanged when no entry point
/// reads a builtin of [`WHOLE`].
pub fn chunked(source: &str, group: u32) -> Result<Chunked, Unfollowed> {
    let tokens = lex(source);
    let pairs = pair(&tokens)?;
    let place = unused_name(&tokens, "wv_chunk");
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut entries = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is_ident("struct") {
            let body = (i..tokens.len()).find(|&j| tokens[j].is('{')).ok_or(Unfollowed::Unbalanced(t.start))?;
            if let Some(at) = (body..pairs[body]).find(|&j| builtin_of(&tokens, &pairs, j).is_some_and(|b| WHOLE.contains(&b))) {
                return Err(Unfollowed::BuiltinInStruct(tokens[at].start));
            }
            i = pairs[body] + 1;
        } else if t.is('@') || t.is_ident("fn") {
            let attributes = Attributes::from(&tokens, &pairs, i);
            i = attributes.end;
            if !tokens.get(i).is_some_and(|t| t.is_ident("fn")) {
                continue;
            }
            let function = super::Function::at(&tokens, &pairs, i)?;
            if attributes.compute {
                let name = tokens[i + 1].text.to_string();
                let lets = rewrite_entry(&tokens, &pairs, i, &place, &attributes, &mut edits)?;
                let reads_place = !lets.is_empty();
                if reads_place {
                    let body = tokens[function.open].end;
                    edits.push((body, body, lets));
                }
                entries.push(Entry { name, reads_place });
            }
            i = function.close + 1;
        } else {
            i += 1;
        }
    }
    if !entries.iter().any(|e| e.reads_place) {
        return Ok(Chunked { code: source.to_string(), entries });
    }
    edits.sort_by_key(|e| e.0);
    let mut code = String::with_capacity(source.len() + 256);
    let mut from = 0;
    for (start, end, text) in &edits {
        code.push_str(&source[from..*start]);
        code.push_str(text);
        from = *end;
    }
    code.push_str(&source[from..]);
    code.push_str(&format!("\n@group({group}) @binding({PLACE_BINDING}) var<uniform> {place}: array<vec4<u32>, 2>;\n"));
    Ok(Chunked { code, entries })
}

/// The attributes before a declaration: whether `@compute` is one, and `@workgroup_size`'s
/// arguments (the text of each).
struct Attributes {
    compute: bool,
    workgroup_size: Vec<String>,
    /// The token after them.
    end: usize,
}

impl Attributes {
    fn from(tokens: &[Token<'_>], pairs: &[usize], mut i: usize) -> Attributes {
        let mut attributes = Attributes { compute: false, workgroup_size: Vec::new(), end: i };
        while tokens.get(i).is_some_and(|t| t.is('@')) {
            let Some(name) = tokens.get(i + 1) else { break };
            i += 2;
            let arguments = tokens.get(i).filter(|t| t.is('(')).map(|_| (i, pairs[i]));
            match (name.text, arguments) {
                ("compute", _) => attributes.compute = true,
                ("workgroup_size", Some((open, close))) => attributes.workgroup_size = arguments_of(tokens, pairs, open, close),
                _ => {}
            }
            if let Some((_, close)) = arguments {
                i = close + 1;
            }
        }
        attributes.end = i;
        attributes
    }
}

/// The text of each argument between the brackets at tokens `open` and `close`, split at their
/// own commas (not those of brackets inside), comments left out.
fn arguments_of(tokens: &[Token<'_>], pairs: &[usize], open: usize, close: usize) -> Vec<String> {
    let mut arguments = Vec::new();
    let mut current: Vec<Token<'_>> = Vec::new();
    let mut j = open + 1;
    while j < close {
        if tokens[j].is(',') {
            arguments.push(text_of(&std::mem::take(&mut current)));
            j += 1;
        } else {
            let last = if matches!(tokens[j].text, "(" | "[") { pairs[j] } else { j };
            current.extend_from_slice(&tokens[j..=last]);
            j = last + 1;
        }
    }
    if !current.is_empty() {
        arguments.push(text_of(&current));
    }
    arguments
}

/// The text of `tokens` on one line: a space where the source had room between two tokens
/// (so `1.5` stays one number and `a - -b` keeps its operators apart).
fn text_of(tokens: &[Token<'_>]) -> String {
    let mut text = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && tokens[i - 1].end < t.start {
            text.push(' ');
        }
        text.push_str(t.text);
    }
    text
}

/// The builtin an attribute at token `at` names, if it is `@builtin(name)`.
fn builtin_of<'a>(tokens: &[Token<'a>], pairs: &[usize], at: usize) -> Option<&'a str> {
    let is_builtin = tokens[at].is('@') && tokens.get(at + 1)?.is_ident("builtin") && tokens.get(at + 2)?.is('(');
    (is_builtin && pairs[at + 2] == at + 4).then(|| tokens[at + 3].text)
}

/// Renames the parameters of the entry point at `fn` token `at` that hold a builtin of
/// [`WHOLE`] (as edits) and gives the `let`s that declare their old names with the values of the
/// whole dispatch.
fn rewrite_entry(
    tokens: &[Token<'_>],
    pairs: &[usize],
    at: usize,
    place: &str,
    attributes: &Attributes,
    edits: &mut Vec<(usize, usize, String)>,
) -> Result<String, Unfollowed> {
    let open = at + 2;
    let close = pairs[open];
    let mut lets = String::new();
    let mut j = open + 1;
    while j < close {
        // A parameter: `attributes name : type`, up to a comma of its own.
        let mut builtin = None;
        let mut k = j;
        while tokens[k].is('@') {
            builtin = builtin.or(builtin_of(tokens, pairs, k));
            k = skip_attributes(tokens, pairs, k).min(close);
            if k == close {
                break;
            }
        }
        let name = k;
        let mut end = name;
        while end < close && !tokens[end].is(',') {
            end = if matches!(tokens[end].text, "(" | "[") { pairs[end] + 1 } else { end + 1 };
        }
        if let Some(builtin) = builtin.filter(|b| WHOLE.contains(b)) {
            let t = &tokens[name];
            if !t.is_word() {
                return Err(Unfollowed::NoFunctionBody(t.start));
            }
            let raw = format!("{place}_{}", t.text);
            let whole = match builtin {
                "workgroup_id" => format!("{raw} + {place}[0].xyz"),
                "global_invocation_id" => format!("{raw} + {place}[0].xyz * {}", size_of(attributes)),
                _ => format!("max({raw}, {place}[1].xyz)"),
            };
            lets.push_str(&format!(" let {} = {whole};", t.text));
            edits.push((t.start, t.end, raw));
        }
        j = end + 1;
    }
    Ok(lets)
}

/// The entry point's workgroup size as a `vec3<u32>` expression (its missing dimensions 1).
fn size_of(attributes: &Attributes) -> String {
    let mut dimensions: Vec<String> = attributes.workgroup_size.iter().map(|a| format!("u32({a})")).collect();
    dimensions.resize(3, "1u".to_string());
    format!("vec3<u32>({})", dimensions.join(", "))
}
