//! A DPC hospital's survey data (issue 21): 様式1 and the EF統合ファイル, read line by line
//! ([`read`]) and imported into the site's data source as DPC rows ([`import`]: `midnet site
//! import dpc`), on the pieces the claims import shares (`load::staged`, the site's patient key).

pub mod import;
pub mod read;
