//! JSON bodies (reference section 3), fastjson-compatible.
