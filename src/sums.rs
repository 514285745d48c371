//! Structs of additive fields whose merge is written from the same field list as the struct, so a
//! field added to one is merged by construction (where a hand-written merge could forget it and a
//! summary of many pieces would silently lose it).

/// Declares a struct whose every field is a sum (integers or exact decimals, all `Copy`), and its
/// `merge`, which adds another value's fields, each to its own.
macro_rules! summable {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty ),*
        }

        impl $name {
            /// Adds another's fields, each to its own (generated from the struct's field list).
            pub fn merge(&mut self, o: &$name) {
                $( self.$field += o.$field; )*
            }
        }
    };
}

pub(crate) use summable;
