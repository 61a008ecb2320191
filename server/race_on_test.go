//go:build race

package server

// raceEnabled: the race detector slows everything several times over.
const raceEnabled = true
