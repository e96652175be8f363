//! Source-to-source rewrites of WGSL that bound how long the GPU work of a shader runs: loop
//! budgets ([`bound`]), so that every invocation ends, and dispatch chunks ([`chunked`]), so
//! that a large dispatch can run as several smaller ones.
//!
//! [`bound`] gives every loop statement (`loop`, `for`, `while`) a counter of its own, a
//! function-scope variable declared at the start of the loop's function and set to the budget.
//! Each iteration first leaves the loop if the counter is spent, then counts one down. So a
//! loop runs at most `budget` iterations per call of its function, whether or not its loops are
//! nested: a nested loop's counter is not reset by the loop around it. (A function called from a
//! loop gets fresh counters at each call: the bound multiplies along the call graph, which WGSL
//! keeps finite by forbidding recursion.)
//!
//! **Uniformity.** A counter is a function-scope variable written only in its own loop, from a
//! constant. In WGSL's uniformity analysis (which tracks such variables by value), it is uniform
//! exactly where its loop's iterations are, so its test adds no non-uniform control flow: a loop
//! holding a `workgroupBarrier` (a tiled matmul) stays valid, and so does every value computed in
//! a loop. A shared counter (a `var<private>`, always non-uniform in the analysis) would break
//! both.
//!
//! **Loops that end anyway** get no counter: a `for` loop whose header is `for (var k = A; k < B;
//! k++)` (or `<=`, `k += 1`, `k = k + 1`), where `A` and `B` are integer literals or names
//! declared once, as `const NAME = LITERAL;`, and whose body never writes `k` (no assignment,
//! no `++` or `--`, no `&k`), runs at most `B - A` iterations (`B` below 2^30, so that `k` cannot
//! wrap). Such a loop, the inner loop of a tiled matmul say, costs nothing more. Its iterations
//! are charged to the nearest loop around it that has a counter: that loop's counter starts at
//! the budget divided by as many iterations as the loops inside it can run per iteration of it
//! (the largest of them, the product of the trip counts down a nest), so that, as before, no
//! loop runs more than the budget's iterations per call of its function. (Every counter counts
//! one down to zero: tested as `< 16u` and counted down by 16, the tiled matmul's ran 6-9%
//! slower on llvmpipe; tested against zero, as fast as without it.) Where that would not fit (a
//! step above the budget, or a nest with no counted loop around it running more than the
//! budget), every loop of the function has a counter as above.
//!
//! **How a spent loop ends.** `for` and `while` loops `break`, as does a `loop` that can
//! `break` anyway. A `loop` with no `break` of its own can only end by returning, so a spent one
//! returns (the zero value of the function's return type): a `break` would let control fall off
//! the end of a function that must return a value.
//!
//! **What it leaves alone.** Nothing (in [`bound`]) is moved, renamed or removed: text is only inserted, right
//! after an opening brace, so every line keeps its number and every token before an insertion
//! on its line keeps its column. A source the rewrite cannot follow (unbalanced brackets, a
//! loop whose body it cannot find) is left as it is: such a shader does not compile, and a
//! pipeline needs a shader that does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

mod chunk;
pub use chunk::{Chunked, Entry, PLACE_BINDING, PLACE_SIZE, chunked};

/// A shader after [`bound`]: its source and where text went in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded {
    /// The rewritten source.
    pub code: String,
    /// How many loops have a budget now.
    pub loops: usize,
    /// How many loops end anyway and have no counter (their iterations are charged to the loop
    /// around them, if any).
    pub exempt: usize,
}

/// Why a source was left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfollowed {
    /// A bracket without its partner, at this byte offset.
    Unbalanced(usize),
    /// A loop keyword whose body does not follow, at this byte offset.
    NoBody(usize),
    /// A function whose body does not follow its header, at this byte offset.
    NoFunctionBody(usize),
    /// A builtin that differs between a dispatch's chunks, on a structure's member, at this
    /// byte offset ([`chunked`]).
    BuiltinInStruct(usize),
}

impl std::fmt::Display for Unfollowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfollowed::Unbalanced(at) => write!(f, "an unbalanced bracket at byte {at}"),
            Unfollowed::NoBody(at) => write!(f, "a loop without a body at byte {at}"),
            Unfollowed::NoFunctionBody(at) => write!(f, "a function without a body at byte {at}"),
            Unfollowed::BuiltinInStruct(at) => write!(f, "a dispatch-wide builtin in a structure at byte {at}"),
        }
    }
}

impl std::error::Error for Unfollowed {}

/// Gives every loop of `source` a budget of `budget` iterations per call of its function.
/// `Ok` with the source unchanged (and `loops` 0) when it has no loop that needs a counter.
pub fn bound(source: &str, budget: u32) -> Result<Bounded, Unfollowed> {
    let tokens = lex(source);
    let pairs = pair(&tokens)?;
    let constants = constants(&tokens);
    let counter = unused_name(&tokens, "wv_loop");
    // Insertions: (byte offset, text), each right after an opening brace.
    let mut insertions: Vec<(usize, String)> = Vec::new();
    let (mut loops, mut exempt) = (0usize, 0usize);
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].is_ident("fn") {
            let function = Function::at(&tokens, &pairs, i)?;
            let mut declarations = String::new();
            let sites = function.loops(&tokens, &pairs, &constants)?;
            for (site, step) in sites.iter().zip(steps(&sites, &pairs, budget)) {
                let Some(step) = step else {
                    exempt += 1;
                    continue;
                };
                let name = format!("{counter}{loops}");
                loops += 1;
                // A step of more than one iteration divides the budget: the counter counts the
                // loop's own iterations, to zero (a test LLVM-based compilers keep cheap).
                let _ = write!(declarations, "var {name}: u32 = {}u; ", u64::from(budget) / step);
                let spent = match site.ends {
                    Ending::Break => "break;".to_string(),
                    Ending::Return => match &function.returns {
                        Some(ty) => format!("return {ty}();"),
                        None => "return;".to_string(),
                    },
                };
                insertions.push((tokens[site.open].end, format!(" if {name} == 0u {{ {spent} }} {name} -= 1u;")));
            }
            if !declarations.is_empty() {
                insertions.push((tokens[function.open].end, format!(" {}", declarations.trim_end())));
            }
            i = function.close + 1;
        } else {
            i += 1;
        }
    }
    insertions.sort_by_key(|(at, _)| *at);
    let mut code = String::with_capacity(source.len() + insertions.iter().map(|(_, t)| t.len()).sum::<usize>());
    let mut from = 0;
    for (at, text) in &insertions {
        code.push_str(&source[from..*at]);
        code.push_str(text);
        from = *at;
    }
    code.push_str(&source[from..]);
    Ok(Bounded { code, loops, exempt })
}

/// A token: an identifier (or keyword), a number, or one punctuation character. Comments and
/// white space are not tokens.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

impl Token<'_> {
    fn is_ident(&self, name: &str) -> bool {
        self.text == name
    }

    fn is(&self, c: char) -> bool {
        self.text.len() == 1 && self.text.starts_with(c)
    }

    fn is_word(&self) -> bool {
        self.text.starts_with(|c: char| c == '_' || c.is_alphabetic() || !c.is_ascii())
    }
}

fn lex(source: &str) -> Vec<Token<'_>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if source[i..].starts_with("//") {
            i = source[i..].find(['\n', '\r']).map_or(bytes.len(), |n| i + n);
        } else if source[i..].starts_with("/*") {
            // Block comments nest in WGSL.
            let mut depth = 0usize;
            while i < bytes.len() {
                if source[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if source[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'_' || c.is_ascii_alphanumeric() || !c.is_ascii() {
            // Words and numbers alike: a number's suffixes and hex digits are word characters,
            // and how a number splits around `.` or an exponent's sign does not matter here.
            let start = i;
            while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric() || !bytes[i].is_ascii()) {
                i += 1;
            }
            tokens.push(Token { text: &source[start..i], start, end: i });
        } else {
            tokens.push(Token { text: &source[i..i + 1], start: i, end: i + 1 });
            i += 1;
        }
    }
    tokens
}

/// For every bracket token (`(`, `[`, `{` and their partners), the index of its partner; other
/// tokens map to themselves. `<` and `>` are not brackets here: they are also operators.
fn pair(tokens: &[Token<'_>]) -> Result<Vec<usize>, Unfollowed> {
    let mut pairs: Vec<usize> = (0..tokens.len()).collect();
    let mut open: Vec<usize> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let partner = match t.text {
            "(" | "[" | "{" => {
                open.push(i);
                continue;
            }
            ")" => "(",
            "]" => "[",
            "}" => "{",
            _ => continue,
        };
        match open.pop() {
            Some(o) if tokens[o].text == partner => {
                pairs[o] = i;
                pairs[i] = o;
            }
            _ => return Err(Unfollowed::Unbalanced(t.start)),
        }
    }
    match open.pop() {
        Some(o) => Err(Unfollowed::Unbalanced(tokens[o].start)),
        None => Ok(pairs),
    }
}

/// `prefix`, with underscores added until no identifier of the source starts with it (so that
/// `prefix` followed by digits names nothing of the shader's).
fn unused_name(tokens: &[Token<'_>], prefix: &str) -> String {
    let mut name = prefix.to_string();
    while tokens.iter().any(|t| t.is_word() && t.text.starts_with(name.as_str())) {
        name.push('_');
    }
    name
}

/// A function declaration: its body's braces (token indices) and its return type's text.
struct Function {
    open: usize,
    close: usize,
    returns: Option<String>,
}

/// How a loop whose budget is spent leaves.
enum Ending {
    Break,
    Return,
}

/// A loop statement: the index of its body's opening brace, how it ends when spent, and at most
/// how many iterations it runs if that is a constant of the source (see [`trips`]).
struct Site {
    open: usize,
    ends: Ending,
    trips: Option<u64>,
}

impl Function {
    /// The function whose `fn` keyword is token `at`.
    fn at(tokens: &[Token<'_>], pairs: &[usize], at: usize) -> Result<Function, Unfollowed> {
        let missing = || Unfollowed::NoFunctionBody(tokens[at].start);
        // `fn name ( parameters ) [-> attributes type] {`
        let params = at + 2;
        if !tokens.get(params).is_some_and(|t| t.is('(')) {
            return Err(missing());
        }
        let mut i = pairs[params] + 1;
        let mut returns = None;
        if tokens.get(i).is_some_and(|t| t.is('-')) && tokens.get(i + 1).is_some_and(|t| t.is('>')) {
            i += 2;
            i = skip_attributes(tokens, pairs, i);
            let start = i;
            while i < tokens.len() && !tokens[i].is('{') {
                i += 1;
            }
            returns = tokens.get(start..i).map(|ty| ty.iter().map(|t| t.text).collect::<Vec<_>>().join(" "));
        }
        match tokens.get(i) {
            Some(t) if t.is('{') => Ok(Function { open: i, close: pairs[i], returns }),
            _ => Err(missing()),
        }
    }

    /// The loop statements of the function's body, in order.
    fn loops(&self, tokens: &[Token<'_>], pairs: &[usize], constants: &Constants<'_>) -> Result<Vec<Site>, Unfollowed> {
        let mut sites = Vec::new();
        for i in self.open + 1..self.close {
            let t = &tokens[i];
            let open = match t.text {
                "loop" => skip_attributes(tokens, pairs, i + 1),
                "for" if tokens[i + 1].is('(') => skip_attributes(tokens, pairs, pairs[i + 1] + 1),
                // A condition holds no braces: the body is the first brace after it.
                "while" => (i + 1..self.close).find(|&j| tokens[j].is('{') || tokens[j].is(';')).unwrap_or(self.close),
                _ => continue,
            };
            if !tokens[open].is('{') {
                return Err(Unfollowed::NoBody(t.start));
            }
            let ends = if t.text == "loop" && !breaks(tokens, pairs, open) { Ending::Return } else { Ending::Break };
            let trips = if t.text == "for" { trips(tokens, pairs, i, open, constants) } else { None };
            sites.push(Site { open, ends, trips });
        }
        Ok(sites)
    }
}

/// How much each iteration of each loop of a function takes from its counter, `None` for a loop
/// with no counter: a loop with a constant trip count needs none where its iterations can be
/// charged to the loop around it (or fit the budget when no loop with a counter is around it).
/// The result keeps every loop's count within the budget per call of the function.
fn steps(sites: &[Site], pairs: &[usize], budget: u32) -> Vec<Option<u64>> {
    let budget = u64::from(budget);
    let mut steps: Vec<Option<u64>> = sites.iter().map(|s| if s.trips.is_some() { None } else { Some(1) }).collect();
    // For each loop with no counter: how many iterations it runs per iteration of the nearest
    // counted loop around it (`owner`), or per call of the function if none is around it.
    let mut runs = vec![0u64; sites.len()];
    let mut owner: Vec<Option<usize>> = vec![None; sites.len()];
    for j in 0..sites.len() {
        let Some(trips) = sites[j].trips else { continue };
        // The innermost loop around this one: sites come in order, and nests are nested ranges.
        let parent = (0..j).rev().find(|&p| sites[j].open < pairs[sites[p].open]);
        (runs[j], owner[j]) = match parent {
            Some(p) if steps[p].is_none() => (runs[p].saturating_mul(trips), owner[p]),
            parent => (trips, parent),
        };
        let fits = match owner[j] {
            Some(o) => {
                let step = steps[o].get_or_insert(1);
                *step = (*step).max(runs[j]);
                *step <= budget
            }
            None => runs[j] <= budget,
        };
        if !fits {
            return vec![Some(1); sites.len()];
        }
    }
    steps
}

/// At most how many iterations the `for` loop at token `keyword` (its body opening at token
/// `open`) runs: `Some` if its header is `for (var k [: u32|i32] = A; k < B; k++)` (or `k <= B`,
/// `k += 1`, `k = k + 1`) with `A` and `B` constants of the source, `B` below 2^30, and its body
/// never writes `k` ([`written`]).
fn trips(tokens: &[Token<'_>], pairs: &[usize], keyword: usize, open: usize, constants: &Constants<'_>) -> Option<u64> {
    let header: Vec<&str> = tokens[keyword + 2..pairs[keyword + 1]].iter().map(|t| t.text).collect();
    let (name, rest) = match header.as_slice() {
        ["var", name, ":", "u32" | "i32", "=", rest @ ..] | ["var", name, "=", rest @ ..] => (*name, rest),
        _ => return None,
    };
    let [start, ";", tested, "<", rest @ ..] = rest else { return None };
    let (inclusive, rest) = match rest {
        ["=", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let [end, ";", step @ ..] = rest else { return None };
    let one = |text: &str| literal(text) == Some(1);
    let by_one = match step {
        [k, "+", "+"] => *k == name,
        [k, "+", "=", by] => *k == name && one(by),
        [k, "=", k2, "+", by] => *k == name && *k2 == name && one(by),
        _ => false,
    };
    let (start, end) = (constant(start, constants)?, constant(end, constants)?);
    if *tested != name || !by_one || end >= 1 << 30 || written(tokens, pairs, open, name) {
        return None;
    }
    Some(if inclusive { (end + 1).saturating_sub(start) } else { end.saturating_sub(start) })
}

/// Names declared once in the source, as `const NAME [: u32|i32] = LITERAL;` (their value), or
/// declared otherwise or more than once (`None`: such a name may mean something else).
type Constants<'a> = BTreeMap<&'a str, Option<u64>>;

fn constants<'a>(tokens: &[Token<'a>]) -> Constants<'a> {
    let mut named = Constants::new();
    for (j, t) in tokens.iter().enumerate() {
        let before = j.checked_sub(1).map(|b| tokens[b].text);
        let declares = matches!(before, Some("let" | "var" | "const" | "override" | "fn" | "struct" | "alias"))
            || tokens.get(j + 1).is_some_and(|n| n.is(':'));
        if !t.is_word() || !declares {
            continue;
        }
        let value = match tokens[j + 1..].iter().take(5).map(|t| t.text).collect::<Vec<_>>().as_slice() {
            [":", "u32" | "i32", "=", value, ";"] | ["=", value, ";", ..] if before == Some("const") => literal(value),
            _ => None,
        };
        named.entry(t.text).and_modify(|v| *v = None).or_insert(value);
    }
    named
}

/// The value of a constant of the source: an integer literal, or a name of [`constants`].
fn constant(text: &str, constants: &Constants<'_>) -> Option<u64> {
    literal(text).or_else(|| constants.get(text).copied().flatten())
}

/// The value of a decimal or hexadecimal integer literal (with or without its `u` or `i`).
fn literal(text: &str) -> Option<u64> {
    let digits = text.strip_suffix(['u', 'i']).unwrap_or(text);
    match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if digits.starts_with(|c: char| c.is_ascii_digit()) => digits.parse().ok(),
        None => None,
    }
}

/// Whether the body opening at token `open` may write the variable `name`: it assigns it (`=`
/// or a compound assignment, also through parentheses), increments or decrements it, or takes
/// its address. Conservative: a name declared anew in the body counts as written too if that
/// one is.
fn written(tokens: &[Token<'_>], pairs: &[usize], open: usize, name: &str) -> bool {
    let text = |k: usize| tokens.get(k).map_or("", |t| t.text);
    (open + 1..pairs[open]).filter(|&j| tokens[j].text == name).any(|j| {
        // `(k)` is `k` too on the left of an assignment.
        let (mut first, mut last) = (j, j);
        while text(first - 1) == "(" && text(last + 1) == ")" && pairs[first - 1] == last + 1 {
            (first, last) = (first - 1, last + 1);
        }
        let after = [text(last + 1), text(last + 2), text(last + 3)];
        let assigned = match after {
            ["=", next, _] => next != "=",
            ["+" | "-" | "*" | "/" | "%" | "&" | "|" | "^", "=", _] | ["+", "+", _] | ["-", "-", _] => true,
            ["<", "<", "="] | [">", ">", "="] => true,
            _ => false,
        };
        // `&k` is its address unless `&` is a binary operator, after an operand.
        let operand = |t: &str| t == ")" || t == "]" || t.starts_with(|c: char| c == '_' || c.is_alphanumeric());
        assigned || (text(first - 1) == "&" && !operand(text(first - 2)))
    })
}

/// Skips attributes (`@name` or `@name(...)`) from token `i`.
fn skip_attributes(tokens: &[Token<'_>], pairs: &[usize], mut i: usize) -> usize {
    while tokens.get(i).is_some_and(|t| t.is('@')) {
        i += 2;
        if tokens.get(i).is_some_and(|t| t.is('(')) {
            i = pairs[i] + 1;
        }
    }
    i
}

/// Whether the loop whose body opens at token `open` has a `break` (or `break if`) of its own:
/// one not inside a loop or `switch` nested in it, which would be theirs.
fn breaks(tokens: &[Token<'_>], pairs: &[usize], open: usize) -> bool {
    let close = pairs[open];
    let mut i = open + 1;
    while i < close {
        match tokens[i].text {
            "break" => return true,
            "loop" | "for" | "while" | "switch" => {
                // Skip to the nested statement's body and over it.
                let body = (i + 1..close).find(|&j| tokens[j].is('{') && !is_in_header(tokens, pairs, i, j)).unwrap_or(close);
                i = pairs[body] + 1;
            }
            _ => i += 1,
        }
    }
    false
}

/// Whether token `j` lies inside the parenthesised header of the statement at token `keyword`
/// (a `for`'s header can hold no brace, but be exact about where the body starts).
fn is_in_header(tokens: &[Token<'_>], pairs: &[usize], keyword: usize, j: usize) -> bool {
    tokens[keyword + 1].is('(') && j < pairs[keyword + 1]
}

#[cfg(test)]
mod tests;
