package client_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync/client"
	"github.com/chatsync/chatsync/signing"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const testSecret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestTransportSigns(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name string
		body io.Reader // nil: no body
		want []byte
	}{
		{name: "no body", body: nil, want: nil},
		{name: "empty body", body: bytes.NewReader(nil), want: nil},
		{name: "json", body: strings.NewReader(`{"sessionId":"42"}`), want: []byte(`{"sessionId":"42"}`)},
		{name: "binary", body: bytes.NewReader([]byte{0, 0, 0, 0, 2, 8, 1}), want: []byte{0, 0, 0, 0, 2, 8, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *http.Request
			var gotBody, gotAgain []byte
			tr := &client.Transport{
				SessionID: "42",
				Secret:    testSecret,
				Now:       func() time.Time { return now },
				Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					got = r
					var err error
					if gotBody, err = io.ReadAll(r.Body); err != nil {
						return nil, err
					}
					rc, err := r.GetBody()
					if err != nil {
						return nil, err
					}
					if gotAgain, err = io.ReadAll(rc); err != nil {
						return nil, err
					}
					return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
				}),
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://chatsync.test/x", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			res.Body.Close()

			if !bytes.Equal(gotBody, tt.want) || !bytes.Equal(gotAgain, tt.want) {
				t.Errorf("forwarded body %q, GetBody %q, want %q", gotBody, gotAgain, tt.want)
			}
			if got.ContentLength != int64(len(tt.want)) {
				t.Errorf("ContentLength = %d, want %d", got.ContentLength, len(tt.want))
			}
			if h := got.Header.Get(signing.HeaderSession); h != "42" {
				t.Errorf("%s = %q, want 42", signing.HeaderSession, h)
			}
			if h := got.Header.Get(signing.HeaderTimestamp); h != strconv.FormatInt(now.Unix(), 10) {
				t.Errorf("%s = %q, want %d", signing.HeaderTimestamp, h, now.Unix())
			}
			err = signing.Verify([]byte(testSecret), got.Header.Get(signing.HeaderTimestamp),
				got.Header.Get(signing.HeaderSignature), gotBody, now)
			if err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			if req.Header.Get(signing.HeaderSignature) != "" {
				t.Error("RoundTrip changed the caller's request headers")
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestTransportBodyError(t *testing.T) {
	t.Parallel()
	tr := &client.Transport{SessionID: "42", Secret: testSecret, Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Error("request sent despite the body error")
		return nil, errors.New("unreachable")
	})}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://chatsync.test/x", errReader{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.RoundTrip(req)
	if err == nil {
		res.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("RoundTrip error = %v, want the body's read error", err)
	}
}

func TestTransportDefaultBase(t *testing.T) {
	t.Parallel()
	verified := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified <- signing.Verify([]byte(testSecret), r.Header.Get(signing.HeaderTimestamp),
			r.Header.Get(signing.HeaderSignature), body, time.Now())
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: &client.Transport{SessionID: "42", Secret: testSecret}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	res.Body.Close()
	if err := <-verified; err != nil {
		t.Errorf("server could not verify: %v", err)
	}
}
