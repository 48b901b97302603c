//! Directories: the DirectorySource trait, its implementations, import and matching.


