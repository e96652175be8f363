//! Futures and streams a replayed call returned (`lost`, `on-uncaptured-error`): the trace's
//! `Resolve` records say what they produced, and when; replay reads the same from them there.

use crate::check::{Check, Source};
use crate::{Checker, Stop};
use futures::future::LocalBoxFuture;
use webgpu_virt_trace::value::Decoder;
use wit_bindgen::rt::async_support::{FutureReader, StreamReader};

type Check1<T> = fn(&mut Check<'_>, &mut Decoder<'_>, T) -> Result<(), Stop>;

struct Future<T: 'static> {
    reader: Option<FutureReader<T>>,
    check: Check1<T>,
}

impl<T: 'static> Source for Future<T> {
    fn next(&mut self) -> LocalBoxFuture<'_, Option<Checker>> {
        Box::pin(async move {
            let value = self.reader.take()?.await;
            let check = self.check;
            Some(Box::new(move |k: &mut Check<'_>, d: &mut Decoder<'_>| check(k, d, value)) as Checker)
        })
    }
}

struct Stream<T: 'static> {
    reader: StreamReader<T>,
    check: Check1<T>,
}

impl<T: 'static> Source for Stream<T> {
    fn next(&mut self) -> LocalBoxFuture<'_, Option<Checker>> {
        Box::pin(async move {
            let value = self.reader.next().await?;
            let check = self.check;
            Some(Box::new(move |k: &mut Check<'_>, d: &mut Decoder<'_>| check(k, d, value)) as Checker)
        })
    }
}

/// A future whose value `check` checks.
pub fn future<T: 'static>(reader: FutureReader<T>, check: Check1<T>) -> Box<dyn Source> {
    Box::new(Future { reader: Some(reader), check })
}

/// A stream whose items `check` checks.
pub fn stream<T: 'static>(reader: StreamReader<T>, check: Check1<T>) -> Box<dyn Source> {
    Box::new(Stream { reader, check })
}
