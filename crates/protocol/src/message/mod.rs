//! Message formats (reference section 4): stored record, properties, batch body, ids.
