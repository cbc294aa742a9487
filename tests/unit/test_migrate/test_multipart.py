# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""An S3 multipart object copied as a static large object: a guessed part
layout checked by the ETag, one GET cut into segments written a few at
once, and nothing visible when a part fails.
"""

import json
import threading
import types

import pytest
from swift.common import internal_client
from swift.common import swob
from swift.proxy import server as proxy_server

from cloudsync import concurrency
from cloudsync import exceptions
from cloudsync.migrate import multipart
from cloudsync.migrate import objects
from cloudsync.migrate import target as target_mod
from tests.unit import fakes
from tests.unit.test_migrate import helpers


class GuessingSource(helpers.MultipartSource):
    """A source that guesses parts of the first part's size, as the s3
    provider does, and counts the GETs and layouts asked for.
    """

    def __init__(self):
        super().__init__()
        self.asked = []

    def guess_part_ranges(self, bucket, key, info):
        self.asked.append('guess')
        sizes = self.buckets[bucket][key].part_sizes
        first, count = sizes[0], len(sizes)
        last = info.size - first * (count - 1)
        return [(n * first, first) for n in range(count - 1)] + [
            (first * (count - 1), last)]

    def part_ranges(self, bucket, key, info):
        self.asked.append('exact')
        return super().part_ranges(bucket, key, info)


class SlowStore(GuessingSource):
    """A store on which a GET and the part layout take as long: its GET
    answers only once the layout has been asked for, or fails after a
    while.
    """

    def __init__(self):
        super().__init__()
        self.layout_asked = concurrency.Event()
        self.layouts_of = []

    def guess_part_ranges(self, bucket, key, info):
        self.layouts_of.append((info.etag, info.size, info.parts_count))
        if not self.layout_asked.ready():
            self.layout_asked.send(True)
        return super().guess_part_ranges(bucket, key, info)

    def get_object(self, bucket, key, **kwargs):
        with concurrency.Timeout(2, False):
            self.layout_asked.wait()
        if not self.layout_asked.ready():
            raise exceptions.Unavailable('the GET waited for the layout')
        return super().get_object(bucket, key, **kwargs)


def segments_of(setup, name='big'):
    manifest = setup.swift_object(name)
    return [(s['name'], s['bytes']) for s in json.loads(manifest.body)]


def body_of(setup, name='big'):
    return b''.join(
        setup.swift_object(path.split('/', 2)[2], 'dest_segments').body
        for path, _size in segments_of(setup, name))


@pytest.mark.parametrize('writers', [1, 2, 4])
def test_parts_of_one_size_need_no_request_per_part(tmp_path, writers):
    source = GuessingSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=writers)
    parts = [b'%d' % n * 7 for n in range(6)] + [b'z' * 3]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['buckets']['src']['last']['copied'] == 1
    assert source.asked == ['guess']
    assert [size for _name, size in segments_of(setup)] == [7] * 6 + [3]
    assert body_of(setup) == b''.join(parts)
    assert source.count('get_object') == 1
    assert source.count('head_object') == 0


def test_the_layout_is_asked_for_while_the_get_is_on_its_way(tmp_path):
    source = SlowStore()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'a' * 7, b'b' * 7, b'c' * 7, b'd' * 2]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['failures'] == []
    assert body_of(setup) == b''.join(parts)
    etag = source.buckets['src']['big'].etag
    # from the listing: its size and ETag, whose -N is the part count
    assert source.layouts_of == [(etag, 23, 4)]
    assert source.count('get_object') == 1
    assert source.count('head_object') == 0


def test_the_segments_container_is_made_while_the_get_is_on_its_way(
        tmp_path):
    made_first = []

    class SlowGet(helpers.MultipartSource):
        def get_object(self, bucket, key, **kwargs):
            # NOTE: a slow answer that lets the other green threads run
            for _tick in range(200):
                if setup.swift.containers.get(
                        (helpers.ACCOUNT, 'dest_segments')) is not None:
                    break
                concurrency.sleep(0.01)
            made_first.append(setup.swift.containers.get(
                (helpers.ACCOUNT, 'dest_segments')) is not None)
            return super().get_object(bucket, key, **kwargs)
    source = SlowGet()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'a' * 7, b'b' * 7, b'c' * 2]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['failures'] == []
    assert made_first == [True]
    assert body_of(setup) == b''.join(parts)


def test_an_object_changed_since_listed_is_cut_as_the_get_reads_it(
        tmp_path):
    source = GuessingSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    source.put_parts('src', 'big', [b'a' * 7, b'b' * 7, b'c' * 2])
    listed = setup.source.page('src').entries
    newer = [b'x' * 5, b'y' * 5, b'z' * 5, b'w' * 1]
    source.put_parts('src', 'big', newer)
    setup.source.page = lambda bucket, marker=None, limit=1000: \
        types.SimpleNamespace(entries=listed, truncated=False,
                              next_marker=None)
    setup.run()
    assert [size for _name, size in segments_of(setup)] == [5, 5, 5, 1]
    assert body_of(setup) == b''.join(newer)


def test_a_likely_layout_is_written_before_the_source_tells_its_own(
        tmp_path, monkeypatch):
    monkeypatch.setattr(multipart, 'PART_SIZE_UNIT', 4)
    segment_1_sent = threading.Event()
    answered_after_segment_1 = []

    class SlowLayout(helpers.MultipartSource):
        def guess_part_ranges(self, bucket, key, info):
            # NOTE: a slow answer that lets the other green threads run
            for _tick in range(200):
                if segment_1_sent.is_set():
                    break
                concurrency.sleep(0.01)
            answered_after_segment_1.append(segment_1_sent.is_set())
            return self.part_ranges(bucket, key, info)
    source = SlowLayout()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)

    def note_segment_1(req):
        if req.method == 'PUT' and (req.obj or '').endswith('/00000001'):
            segment_1_sent.set()
    setup.swift.hooks.append(note_segment_1)
    # 26 bytes in 4 parts: only parts of 8 (whole units of 4) fit
    parts = [b'a' * 8, b'b' * 8, b'c' * 8, b'd' * 2]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['failures'] == []
    assert answered_after_segment_1 == [True]
    assert [size for _name, size in segments_of(setup)] == [8, 8, 8, 2]
    assert body_of(setup) == b''.join(parts)
    assert source.count('get_object') == 1


def test_a_likely_layout_the_source_denies_is_dropped_after_one_part(
        tmp_path, monkeypatch):
    monkeypatch.setattr(multipart, 'PART_SIZE_UNIT', 4)
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    # parts of 8 are likely, but the first part is 6 bytes
    parts = [b'a' * 6, b'b' * 8, b'c' * 8, b'd' * 4]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['failures'] == []
    assert [size for _name, size in segments_of(setup)] == [6, 8, 8, 4]
    assert body_of(setup) == b''.join(parts)
    assert source.count('get_object') == 2
    segment_puts = [r for r in setup.object_requests('PUT')
                    if r.container == 'dest_segments']
    assert len(segment_puts) == 1 + 4


def test_a_likely_layout_of_a_source_without_parts_is_copied_whole(
        tmp_path, monkeypatch):
    monkeypatch.setattr(multipart, 'PART_SIZE_UNIT', 4)
    source = fakes.FakeProvider()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'a' * 8, b'b' * 8, b'c' * 8, b'd' * 2]
    source.put_raw('src', 'big', b''.join(parts), etag=objects.multipart_etag(
        [fakes.md5_hex(p) for p in parts]))
    _, state = setup.run()
    assert state.data['failures'] == []
    copy = setup.swift_object('big')
    assert copy.body == b''.join(parts)
    assert 'x-static-large-object' not in {k.lower() for k in copy.headers}
    # the one segment written before the source said it has no parts
    assert [name for (_a, c, name) in setup.swift.objects
            if c == 'dest_segments' and
            setup.swift_object(name, 'dest_segments') is not None] == []


def test_a_wrong_guess_is_found_by_the_etag_and_the_exact_parts_copied(
        tmp_path):
    source = GuessingSource()
    setup = helpers.Setup(tmp_path, provider=source)
    # a first part of 7 bytes, the next of 5: not parts of one size
    parts = [b'a' * 7, b'b' * 5, b'c' * 7, b'd' * 2]
    source.put_parts('src', 'big', parts)
    _, state = setup.run()
    assert state.data['buckets']['src']['last']['copied'] == 1
    assert source.asked == ['guess', 'exact']
    assert [size for _name, size in segments_of(setup)] == [7, 5, 7, 2]
    assert body_of(setup) == b''.join(parts)
    etag = source.buckets['src']['big'].etag
    names = sorted(name for (_a, c, name) in setup.swift.objects
                   if c == 'dest_segments')
    assert names == ['big/%s/%08d' % (etag, n) for n in (1, 2, 3, 4)]


def test_a_failed_segment_leaves_no_manifest_and_is_retried(tmp_path):
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=3)
    parts = [b'a' * 7, b'b' * 7, b'c' * 7, b'd' * 7, b'e' * 2]
    source.put_parts('src', 'big', parts)
    failed = []

    def fail_part_3(req):
        if req.method == 'PUT' and (req.obj or '').endswith('/00000003'):
            failed.append(req.obj)
            return swob.HTTPServiceUnavailable()
    setup.swift.hooks.append(fail_part_3)
    _, state = setup.run()
    assert failed
    setup.swift.hooks.remove(fail_part_3)
    assert setup.swift_object('big') is None
    failure, = state.data['failures']
    assert failure['key'] == 'big'
    _, state = setup.run()
    assert state.data['failures'] == []
    assert body_of(setup) == b''.join(parts)


def test_parts_larger_than_the_buffer_are_streamed(tmp_path, monkeypatch):
    monkeypatch.setattr(multipart, 'MAX_BUFFERED_PART', 4)
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=4)
    parts = [b'a' * 7, b'b' * 7, b'c' * 3]
    source.put_parts('src', 'big', parts)
    setup.run()
    assert body_of(setup) == b''.join(parts)


def test_writers_overlap_and_parts_in_memory_are_bounded(tmp_path):
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'%d' % n * 7 for n in range(8)]
    source.put_parts('src', 'big', parts)
    lock = threading.Lock()
    inflight, peak = [0], [0]
    gate = threading.Event()

    def slow_segment(req):
        if req.method == 'PUT' and req.container == 'dest_segments':
            with lock:
                inflight[0] += 1
                peak[0] = max(peak[0], inflight[0])
            gate.wait(0.05)
            with lock:
                inflight[0] -= 1
    setup.swift.hooks.append(slow_segment)
    setup.run()
    assert body_of(setup) == b''.join(parts)
    assert peak[0] == 2


def test_answers_are_awaited_without_the_bytes_of_their_parts(
        tmp_path, monkeypatch):
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'%d' % n * 7 for n in range(10)]
    source.put_parts('src', 'big', parts)
    lock = threading.Condition()
    inflight, peak_inflight = [0], [0]
    in_memory, peak_in_memory = [0], [0]

    class CountedPart(multipart._Part):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with lock:
                in_memory[0] += 1
                peak_in_memory[0] = max(peak_in_memory[0], in_memory[0])

        def _let_go(self):
            if self._chunks is not None:
                with lock:
                    in_memory[0] -= 1
            super()._let_go()
    monkeypatch.setattr(multipart, '_Part', CountedPart)
    real_put = setup.target.put

    def slow_answer(container, name, headers, body, **kwargs):
        with lock:
            inflight[0] += 1
            peak_inflight[0] = max(peak_inflight[0], inflight[0])
        try:
            resp = real_put(container, name, headers, body, **kwargs)
            # NOTE: Swift took every byte and answers late (fsync,
            # container update): the next segments go on meanwhile.
            if container == 'dest_segments':
                with lock:
                    lock.wait_for(lambda: inflight[0] >= 4, timeout=0.2)
            return resp
        finally:
            with lock:
                inflight[0] -= 1
                lock.notify_all()
    setup.target.put = slow_answer
    _, state = setup.run()
    assert state.data['failures'] == []
    assert body_of(setup) == b''.join(parts)
    # twice part_writers PUTs at once, half of them awaiting their answer
    assert peak_inflight[0] == 4
    # the parts being sent and the one being read
    assert peak_in_memory[0] <= 3
    assert source.count('get_object') == 1


def retrying_setup(tmp_path, monkeypatch):
    """A multipart object of 4 parts, 2 part writers, a retry a PUT."""
    monkeypatch.setattr(internal_client, 'sleep', lambda seconds: None)
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    setup.client.request_tries = 2
    parts = [b'a' * 7, b'b' * 7, b'c' * 7, b'd' * 2]
    source.put_parts('src', 'big', parts)
    return source, setup, parts


def test_a_part_sent_already_is_read_again_to_retry_its_segment(
        tmp_path, monkeypatch):
    source, setup, parts = retrying_setup(tmp_path, monkeypatch)
    failed = []
    real_put = setup.swift._object_PUT

    def lose_part_3_once(req, account, container, obj, params):
        if obj.endswith('/00000003') and not failed:
            failed.append(req.body_file.read())
            return swob.HTTPServiceUnavailable()
        return real_put(req, account, container, obj, params)
    monkeypatch.setattr(setup.swift, '_object_PUT', lose_part_3_once)
    _, state = setup.run()
    assert failed == [b'c' * 7]
    assert state.data['failures'] == []
    assert body_of(setup) == b''.join(parts)
    # the one GET of the object, and part 3 again
    assert source.count('get_object') == 2


def test_a_part_read_again_from_a_changed_object_fails_the_copy(
        tmp_path, monkeypatch):
    source, setup, parts = retrying_setup(tmp_path, monkeypatch)
    real_put = setup.swift._object_PUT

    def overwrite_during_part_3(req, account, container, obj, params):
        if obj.endswith('/00000003') and \
                source.buckets['src']['big'].data[:1] == b'a':
            req.body_file.read()
            source.put_parts('src', 'big', [b'x' * 7, b'y' * 7, b'z' * 7,
                                            b'w' * 2])
            return swob.HTTPServiceUnavailable()
        return real_put(req, account, container, obj, params)
    monkeypatch.setattr(setup.swift, '_object_PUT', overwrite_during_part_3)
    _, state = setup.run()
    assert setup.swift_object('big') is None
    failure, = state.data['failures']
    assert 'changed while it was read' in failure['error']


def test_stream_cuts_chunks_without_losing_bytes():
    stream = multipart._Stream([b'abc', b'defgh', b'', b'ij'])
    assert b''.join(stream.read(2)) == b'ab'
    assert b''.join(stream.read(4)) == b'cdef'
    assert b''.join(stream.read(10)) == b'ghij'
    assert stream.read(3) == []


def test_the_migrators_proxy_reads_bodies_in_larger_chunks():
    app = object.__new__(proxy_server.Application)
    app.client_chunk_size = 65536
    pipeline = types.SimpleNamespace(app=types.SimpleNamespace(app=app))
    target_mod._larger_chunks(pipeline)
    assert app.client_chunk_size == target_mod.CLIENT_CHUNK_SIZE
    app.client_chunk_size = 4096
    target_mod._larger_chunks(pipeline)
    assert app.client_chunk_size == 4096


def test_segments_take_swifts_etag_and_a_wrong_one_fails(tmp_path):
    source = helpers.MultipartSource()
    setup = helpers.Setup(tmp_path, provider=source, part_writers=2)
    parts = [b'a' * 7, b'b' * 7, b'c' * 3]
    source.put_parts('src', 'big', parts)
    real_put = setup.target.put

    def lying_put(container, name, headers, body, **kwargs):
        resp = real_put(container, name, headers, body, **kwargs)
        if name.endswith('/00000002'):
            resp['etag'] = '0' * 32
        return resp
    setup.target.put = lying_put
    _, state = setup.run()
    assert setup.swift_object('big') is None
    failure, = state.data['failures']
    assert 'ETag' in failure['error']


def test_the_migrators_slo_checks_segments_a_few_at_once():
    app = target_mod.wrap(lambda env, start_response: [])
    assert app.app.concurrency == target_mod.SLO_CONCURRENCY > 2
