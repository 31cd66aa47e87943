//! Human-readable lines for development, with the same masking as JSON.

use std::fmt;

use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, FormatFields, Writer};

use crate::mask::{MASK, Masks};

/// Formats fields as `name=value` separated by spaces, masking as configured.
pub(crate) fn text_fields(masks: Masks) -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(
        move |writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug| {
            let name = field.name();
            if masks.is_masked(name) {
                write!(writer, "{name}={MASK}")
            } else if name == "message" {
                write!(writer, "{value:?}")
            } else {
                write!(writer, "{name}={value:?}")
            }
        },
    )
    .delimited(" ")
}
