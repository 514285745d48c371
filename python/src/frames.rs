//! Frames handed to Python polars through the Arrow C stream interface (`__arrow_c_stream__`): the
//! columns move without a copy, and any Arrow consumer (polars, pyarrow, DuckDB) can take them.

use polars::prelude::*;
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField};
use polars_arrow::ffi;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::sync::Mutex;

/// The frames still to hand over, one Arrow record batch each.
type Batches = Box<dyn Iterator<Item = PolarsResult<DataFrame>> + Send>;

/// A stream of frames Python reads once, with `polars.DataFrame(stream)`.
#[pyclass(module = "underwater._native")]
pub struct Frames {
    batches: Mutex<Option<Batches>>,
}

impl Frames {
    pub fn new(batches: impl Iterator<Item = PolarsResult<DataFrame>> + Send + 'static) -> Frames {
        Frames {
            batches: Mutex::new(Some(Box::new(batches))),
        }
    }

    pub fn one(frame: DataFrame) -> Frames {
        Frames::new(std::iter::once(Ok(frame)))
    }
}

#[pymethods]
impl Frames {
    /// The Arrow PyCapsule interface: a capsule holding an `ArrowArrayStream` of struct arrays, one per
    /// frame. `requested_schema` is not honoured (the columns are what they are).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let taken = self.batches.lock().ok().and_then(|mut b| b.take());
        let Some(mut batches) = taken else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "these frames were already read: read them once",
            ));
        };
        // The stream's schema comes first: it is the first frame's (a book's frames share theirs).
        let first = batches
            .next()
            .unwrap_or_else(|| Ok(DataFrame::empty()))
            .map_err(crate::internal)?;
        let field = ArrowField::new("".into(), struct_type(&first), false);
        let arrays = std::iter::once(Ok(first))
            .chain(batches)
            .map(|frame| frame.map(struct_array));
        let stream = ffi::export_iterator(Box::new(arrays), field);
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}

fn struct_type(frame: &DataFrame) -> ArrowDataType {
    let fields = frame
        .columns()
        .iter()
        .map(|c| c.field().to_arrow(CompatLevel::newest()))
        .collect();
    ArrowDataType::Struct(fields)
}

/// A frame as one struct array (its columns as one chunk each).
fn struct_array(frame: DataFrame) -> Box<dyn Array> {
    let arrays = frame
        .columns()
        .iter()
        .map(|c| {
            c.as_materialized_series()
                .rechunk()
                .to_arrow(0, CompatLevel::newest())
        })
        .collect();
    StructArray::new(struct_type(&frame), frame.height(), arrays, None).boxed()
}

/// A frame from Python (anything with `__arrow_c_stream__`: a polars or pyarrow frame, a record batch
/// reader) taken through the Arrow C stream interface: its batches stacked into one polars frame.
pub fn import(py: Python<'_>, object: &Bound<'_, PyAny>) -> PyResult<DataFrame> {
    use pyo3::types::PyCapsuleMethods;
    let capsule = object
        .call_method0("__arrow_c_stream__")?
        .cast_into::<PyCapsule>()
        .map_err(|e| crate::internal(format!("__arrow_c_stream__ gave no capsule: {e}")))?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule named "arrow_array_stream" holds an ArrowArrayStream (the Arrow PyCapsule
    // interface); moving it out and leaving an empty one with no `release` is how a consumer takes it,
    // so the capsule's destructor then releases nothing.
    let stream = unsafe {
        std::ptr::replace(
            pointer.as_ptr().cast::<ffi::ArrowArrayStream>(),
            ffi::ArrowArrayStream::empty(),
        )
    };
    py.detach(move || stack(stream)).map_err(crate::internal)
}

/// The stream's struct arrays, one per batch, as one frame (its schema's columns when it has none).
fn stack(stream: ffi::ArrowArrayStream) -> PolarsResult<DataFrame> {
    // SAFETY: the stream came from an Arrow PyCapsule, which promises a valid C stream.
    let mut reader = unsafe { ffi::ArrowArrayStreamReader::try_new(Box::new(stream))? };
    let ArrowDataType::Struct(fields) = reader.field().dtype().clone() else {
        polars_bail!(ComputeError: "the Arrow stream holds {:?}, not record batches", reader.field().dtype());
    };
    let mut frame: Option<DataFrame> = None;
    // SAFETY: as above, each array the stream hands out fulfils the C data interface.
    while let Some(array) = unsafe { reader.next() } {
        let array = array?;
        let Some(batch) = array.as_any().downcast_ref::<StructArray>() else {
            polars_bail!(ComputeError: "the Arrow stream's batch is not a struct array");
        };
        let batch = DataFrame::try_from(batch.clone())?;
        match &mut frame {
            None => frame = Some(batch),
            Some(f) => {
                f.vstack_mut_owned(batch)?;
            }
        }
    }
    match frame {
        Some(frame) => Ok(frame),
        None => {
            let schema: Schema = fields.iter().map(Field::from).collect();
            Ok(DataFrame::empty_with_schema(&schema))
        }
    }
}
