// The conformance suites (and their test clock) ship in Tunesmith.Testing; every test class may derive from them.
global using Tunesmith.Testing;
