//! OData query handling shared by the collection endpoints: `$filter` parsing and
//! evaluation, and the query options with Graph's rules on advanced queries, page sizes
//! and `$select`.

pub(crate) mod filter;
pub(crate) mod query;
