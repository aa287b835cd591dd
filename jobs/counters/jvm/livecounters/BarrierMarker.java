package livecounters;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;

/**
 * Passes the counting job's truths on to its Python sink and marks where a checkpoint
 * barrier (or the end of input) follows them.
 *
 * <p>Flink calls {@code prepareSnapshotPreBarrier} before the barrier leaves this operator,
 * and the Python sink after it ends its bundle there. The marker row sent here reaches the
 * sink before that bundle ends, so the sink knows which bundle end precedes a barrier and
 * waits for its Cassandra writes only at those (PyFlink tells a Python function no more than
 * that a bundle ended). The marker is a DELETE row, never part of the truths' upsert stream,
 * whose fields are all -1 (numbers) or "" (strings).
 *
 * <p>Stateless. Built by {@code scripts/setup} against the Flink distribution PyFlink ships.
 */
public final class BarrierMarker extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Row, Row>, BoundedOneInput {

    private static final long serialVersionUID = 1L;

    /** One letter per field of the truth rows: L (BIGINT), I (INT), S (STRING). */
    private final String fieldTypes;

    public BarrierMarker(String fieldTypes) {
        for (char c : fieldTypes.toCharArray()) {
            if (c != 'L' && c != 'I' && c != 'S') {
                throw new IllegalArgumentException("field types are L, I or S: " + fieldTypes);
            }
        }
        this.fieldTypes = fieldTypes;
    }

    /** The marker row: kind DELETE, every field -1 or "". */
    public Row marker() {
        Row row = new Row(RowKind.DELETE, fieldTypes.length());
        for (int i = 0; i < fieldTypes.length(); i++) {
            char c = fieldTypes.charAt(i);
            row.setField(i, c == 'L' ? (Object) (-1L) : c == 'I' ? (Object) (-1) : "");
        }
        return row;
    }

    @Override
    public void processElement(StreamRecord<Row> element) {
        output.collect(element);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        output.collect(new StreamRecord<>(marker()));
    }

    @Override
    public void endInput() {
        output.collect(new StreamRecord<>(marker()));
    }
}
