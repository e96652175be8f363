//! The replay's objects, and what decoding a call's arguments needs: the objects by the ids the
//! recorder gave them, and the blobs.

use crate::Stop;
use crate::dispatch::Object;
use hashbrown::HashMap;
use std::cell::RefCell;
use std::rc::Rc;
use webgpu_virt_trace::value::{Decoder, StringRef};

/// A resource of `wasi:webgpu` as the table holds it (implemented by the generated code).
pub trait Resource: Sized + 'static {
    /// The resource's name in the WIT.
    const NAME: &'static str;
    /// The object, for the table.
    fn share(rc: Rc<Self>) -> Object;
    /// The object, if it is one of these.
    fn of(o: &Object) -> Option<&Rc<Self>>;
    /// The object's handle.
    fn handle(&self) -> u32;
    /// An owned object of the handle.
    ///
    /// # Safety
    /// The handle must be one nothing else will drop.
    unsafe fn from_handle(handle: u32) -> Self;
}

/// The objects of the replay by their recorded ids.
#[derive(Default)]
pub struct Objects {
    map: HashMap<u64, Object>,
}

impl Objects {
    pub fn insert(&mut self, id: u64, object: Object) {
        self.map.insert(id, object);
    }

    /// The application dropped object `id`: so does the replay (an object a pending call uses
    /// lives until the call is done).
    pub fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }

    fn get<T: Resource>(&self, id: u64, at: usize) -> Result<&Rc<T>, Stop> {
        match self.map.get(&id) {
            Some(o) => T::of(o).ok_or_else(|| Stop::object(at, format!("object #{id} is a `{}`, where a `{}` was expected", o.kind(), T::NAME))),
            None if id == 0 => Err(Stop::object(at, format!("no object where a `{}` was expected", T::NAME))),
            None => Err(Stop::object(at, format!("object #{id} (a `{}`) is not in the replay: no result made it, or it was dropped", T::NAME))),
        }
    }

    /// Forgets objects passed to the runtime by ownership: the runtime has their handles now.
    pub fn forget(&mut self, ids: Vec<u64>) {
        for id in ids {
            if let Some(o) = self.map.remove(&id) {
                std::mem::forget(o);
            }
        }
    }
}

/// What decoding a call's arguments reads from: the objects and the blobs so far.
pub struct Ctx<'a> {
    objects: &'a Objects,
    blobs: &'a [&'a [u8]],
    /// For an async call: the objects its arguments borrow, which its future keeps alive.
    kept: Option<RefCell<Vec<Object>>>,
    /// The objects passed by ownership.
    moved: RefCell<Vec<u64>>,
}

impl<'a> Ctx<'a> {
    /// Decoding the arguments of a call (`keep`: an async call, whose future outlives them).
    pub fn new(objects: &'a Objects, blobs: &'a [&'a [u8]], keep: bool) -> Self {
        Self { objects, blobs, kept: keep.then(RefCell::default), moved: RefCell::default() }
    }

    /// A borrowed object.
    pub fn borrow<T: Resource>(&self, d: &mut Decoder<'_>) -> Result<&'a T, Stop> {
        let at = d.offset();
        let object = self.objects.get::<T>(d.uleb()?, at)?;
        if let Some(kept) = &self.kept {
            kept.borrow_mut().push(T::share(object.clone()));
        }
        Ok(object)
    }

    /// A borrowed object, shared (an async call's `this`).
    pub fn rc<T: Resource>(&self, d: &mut Decoder<'_>) -> Result<Rc<T>, Stop> {
        let at = d.offset();
        Ok(self.objects.get::<T>(d.uleb()?, at)?.clone())
    }

    /// An object passed by ownership. It leaves the table when the arguments are decoded
    /// ([`Ctx::finish`]), whether the call is made or not.
    pub fn own<T: Resource>(&self, d: &mut Decoder<'_>) -> Result<T, Stop> {
        let at = d.offset();
        let id = d.uleb()?;
        let object = self.objects.get::<T>(id, at)?;
        if Rc::strong_count(object) != 1 || self.moved.borrow().contains(&id) {
            return Err(Stop::object(at, format!("object #{id} is passed by ownership while a pending call still uses it")));
        }
        self.moved.borrow_mut().push(id);
        // SAFETY: the table's `Rc` is the only one and is forgotten, not dropped, by `finish`:
        // the handle is dropped once, by whoever owns the value made here.
        Ok(unsafe { T::from_handle(object.handle()) })
    }

    /// A string: in the record or in a blob.
    pub fn string(&self, d: &mut Decoder<'_>) -> Result<String, Stop> {
        let at = d.offset();
        match d.string()? {
            StringRef::Inline(s) => Ok(s.to_string()),
            StringRef::Blob(n) => {
                let data = self.blob(n, at)?;
                String::from_utf8(data.to_vec()).map_err(|_| Stop::corrupt(at, "a string blob that is not UTF-8"))
            }
        }
    }

    /// A `list<u8>`: its blob's data.
    pub fn bytes(&self, d: &mut Decoder<'_>) -> Result<Vec<u8>, Stop> {
        let at = d.offset();
        let n = d.uleb()?;
        Ok(self.blob(n, at)?.to_vec())
    }

    fn blob(&self, n: u64, at: usize) -> Result<&'a [u8], Stop> {
        blob(self.blobs, n, at)
    }

    /// Checks that the arguments were all read.
    pub fn end(&self, d: &Decoder<'_>) -> Result<(), Stop> {
        if d.is_empty() { Ok(()) } else { Err(Stop::corrupt(d.offset(), "bytes after the call's arguments")) }
    }

    /// The objects an async call's arguments borrow.
    pub fn kept(&self) -> Vec<Object> {
        self.kept.as_ref().map(|k| k.take()).unwrap_or_default()
    }

    /// Done decoding: the objects passed by ownership, for [`Objects::forget`].
    pub fn finish(self) -> Vec<u64> {
        self.moved.into_inner()
    }
}

/// Blob number `n` of `blobs` (a reference to it at `at`).
pub fn blob<'b>(blobs: &[&'b [u8]], n: u64, at: usize) -> Result<&'b [u8], Stop> {
    usize::try_from(n).ok().and_then(|n| blobs.get(n)).copied().ok_or(Stop::corrupt(at, "a blob that no record before holds"))
}

/// A signed number that must fit `T`.
pub fn signed<T: TryFrom<i64>>(d: &mut Decoder<'_>) -> Result<T, Stop> {
    let at = d.offset();
    T::try_from(d.sleb()?).map_err(|_| Stop::corrupt(at, "a number out of range for its type"))
}

/// A list's length (at most what the payload could hold: each element takes a byte at least).
pub fn count(d: &mut Decoder<'_>) -> Result<usize, Stop> {
    let at = d.offset();
    let n = d.uleb_as::<usize>()?;
    if n > d.rest().len() { Err(Stop::corrupt(at, "a list longer than its record")) } else { Ok(n) }
}
