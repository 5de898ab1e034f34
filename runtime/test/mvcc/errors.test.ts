/** The etcd error vocabulary: codes, messages and the JSON gateway's statuses as etcd 3.4's gateway answers them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdError, EtcdErrors, GrpcCode } from '../../src/errors';
import { MvccError, MvccStore } from '../../src/mvcc';

void describe('etcd errors', () => {
  void it('carry the gateway status and body etcd 3.4 answers (checked with curl against etcd 3.4.23)', () => {
    const cases: [EtcdError, number, number][] = [
      [EtcdErrors.leaseNotFound(), GrpcCode.NOT_FOUND, 404],
      [EtcdErrors.leaseExists(), GrpcCode.FAILED_PRECONDITION, 412],
      [EtcdErrors.futureRev(), GrpcCode.OUT_OF_RANGE, 400],
      [EtcdErrors.emptyKey(), GrpcCode.INVALID_ARGUMENT, 400],
      [EtcdErrors.leaseTtlTooLarge(), GrpcCode.OUT_OF_RANGE, 400],
      [EtcdErrors.noLeader(), GrpcCode.UNAVAILABLE, 503],
    ];
    for (const [e, code, status] of cases) {
      assert.equal(e.code, code);
      assert.equal(e.httpStatus, status, e.message);
      assert.deepEqual(e.gatewayBody(), { error: e.message, message: e.message, code });
    }
  });

  void it('the store throws them (MvccError is the same class)', () => {
    const isNotFound = (e: unknown): boolean => e instanceof EtcdError && e instanceof MvccError && e.httpStatus === 404;
    assert.throws(() => new MvccStore().leaseRevoke({ ID: 1 }), isNotFound);
  });
});
