package report

import (
	"errors"
	"fmt"
	"io"

	"github.com/cointrail/cointrail/taint"
)

// Formats are the trace output formats WriteStreams renders, as `cointrail
// trace --format` and POST /v1/trace's "format" name them.
var Formats = []string{"text", "json", "csv", "graphml", "html", "freeze", "freeze-json", "seizable", "seizable-json"}

// ErrFormat: a format WriteStreams does not know.
var ErrFormat = errors.New("report: unknown format")

// ContentType is the media type of a format's output.
func ContentType(format string) string {
	switch format {
	case "json", "freeze-json", "seizable-json":
		return "application/json"
	case "csv", "freeze", "seizable":
		return "text/csv; charset=utf-8"
	case "graphml":
		return "application/graphml+xml"
	case "html":
		return "text/html; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// WriteStreams renders streamed results (one per model) in format: JSON,
// CSV, the freeze and seizable lists and the text summary are written from
// the compact state without building the result; GraphML and HTML build
// it (their graphs need every transaction at once).
func WriteStreams(w io.Writer, ss []*taint.TraceStream, format string, opt HTMLOptions) error {
	switch format {
	case "json":
		return taint.WriteJSONAll(w, ss)
	case "csv":
		return CSVStreams(w, ss)
	case "text":
		heads := make([]*taint.Result, len(ss))
		for i, s := range ss {
			heads[i] = s.Head()
		}
		return Text(w, heads)
	case "freeze", "freeze-json":
		return FreezeStreams(w, ss, format == "freeze-json")
	case "seizable", "seizable-json":
		return SeizableStreams(w, ss, format == "seizable-json")
	case "graphml", "html":
		rs := make([]*taint.Result, len(ss))
		for i, s := range ss {
			r, err := s.Result()
			if err != nil {
				return err
			}
			rs[i] = r
		}
		if format == "graphml" {
			return GraphML(w, rs)
		}
		return HTML(w, rs, opt)
	}
	return fmt.Errorf("%w %q", ErrFormat, format)
}
