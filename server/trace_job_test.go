package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func waitJob(t *testing.T, j *job) JobView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := j.view()
		if v.State == "done" || v.State == "failed" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %+v never finished", v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A trace job's result lives in a file: small ones are inlined in the job
// view, any is served raw with Range requests (paging), and the file goes
// when the job is forgotten or the server stops.
func TestTraceJobResultFile(t *testing.T) {
	js := newJobs(1)
	small := `{"a":1}`
	j, err := js.start("json", func(_ context.Context, w io.Writer) error { _, err := io.WriteString(w, small); return err })
	if err != nil {
		t.Fatal(err)
	}
	v := waitJob(t, j)
	if v.State != "done" || string(v.Result) != small || v.ResultBytes != int64(len(small)) {
		t.Fatalf("small job %+v", v)
	}
	first := j.file

	big := strings.Repeat("x", inlineResult+1)
	j2, err := js.start("json", func(_ context.Context, w io.Writer) error { _, err := io.WriteString(w, big); return err })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("the forgotten job's result file is still there (%v)", err)
	}
	v = waitJob(t, j2)
	if v.State != "done" || v.Result != nil || v.ResultBytes != int64(len(big)) {
		t.Fatalf("big job: state %s, %d bytes inlined, result_bytes %d", v.State, len(v.Result), v.ResultBytes)
	}
	req := httptest.NewRequest("GET", "/v1/trace/jobs/"+j2.ID+"?result=raw", nil)
	req.Header.Set("Range", "bytes=10-19")
	rec := httptest.NewRecorder()
	if err := j2.serveResult(rec, req); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusPartialContent || rec.Body.String() != big[10:20] {
		t.Fatalf("range: %d %q", rec.Code, rec.Body.String())
	}

	failed, err := newJobs(2).start("json", func(_ context.Context, w io.Writer) error {
		io.WriteString(w, "partial")
		return ErrLimit
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := waitJob(t, failed); v.State != "failed" || v.Result != nil || failed.file != "" {
		t.Fatalf("failed job %+v file %q", v, failed.file)
	}
	if err := failed.serveResult(httptest.NewRecorder(), req); err == nil {
		t.Fatal("a failed job served a result")
	}

	file := j2.file
	js.cancelAll()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("result file kept after cancelAll (%v)", err)
	}
}
