package edgeai.engines;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import io.siddhi.annotation.Extension;
import io.siddhi.annotation.Parameter;
import io.siddhi.annotation.util.DataType;
import io.siddhi.core.exception.SiddhiAppCreationException;
import io.siddhi.core.table.record.AbstractRecordTable;
import io.siddhi.core.table.record.BaseExpressionVisitor;
import io.siddhi.core.table.record.ExpressionBuilder;
import io.siddhi.core.table.record.RecordIterator;
import io.siddhi.core.util.collection.operator.CompiledCondition;
import io.siddhi.core.util.collection.operator.CompiledExpression;
import io.siddhi.core.util.config.ConfigReader;
import io.siddhi.query.api.annotation.Annotation;
import io.siddhi.query.api.definition.Attribute;
import io.siddhi.query.api.definition.TableDefinition;
import io.siddhi.query.api.expression.condition.Compare;
import io.siddhi.query.api.util.AnnotationHelper;
import redis.clients.jedis.JedisPooled;

/**
 * Stand-in for siddhi-store-redis (not on Maven Central) on a real Redis (Jedis): one hash per
 * row under `<table.name>:<primary key value>`, the layout the chart README describes. Supports
 * what the shipped app does with its tables, conditions of primary-key equality
 * (`update or insert into T on T.sensorId == sensorId`, finds and deletes by key); any other
 * condition fails the app at creation rather than being half-done.
 */
@Extension(name = "redis", namespace = "store", description = "edgeai stand-in for siddhi-store-redis",
    parameters = {
        @Parameter(name = "host", type = DataType.STRING, description = ""),
        @Parameter(name = "port", type = DataType.INT, description = ""),
        @Parameter(name = "password", type = DataType.STRING, optional = true, defaultValue = "", description = ""),
        @Parameter(name = "table.name", type = DataType.STRING, optional = true, defaultValue = "", description = "")
    })
public class RedisStore extends AbstractRecordTable {
    private String host;
    private int port;
    private String password;
    private String table;
    private List<Attribute> attributes;
    private String primaryKey;
    private JedisPooled redis;

    /** `T.<pk> == <stream variable or constant>` */
    static final class KeyCondition implements CompiledCondition {
        String parameter;
        Object constant;
    }

    /** One `set` value: a stream variable (parameter) or a constant. */
    static final class SetValue implements CompiledExpression {
        String parameter;
        Object constant;
    }

    @Override
    protected void init(TableDefinition definition, ConfigReader configReader) {
        Annotation store = AnnotationHelper.getAnnotation("Store", definition.getAnnotations());
        host = store.getElement("host");
        port = Integer.parseInt(store.getElement("port"));
        password = store.getElement("password");
        table = store.getElement("table.name") == null ? definition.getId() : store.getElement("table.name");
        attributes = definition.getAttributeList();
        Annotation pk = AnnotationHelper.getAnnotation("PrimaryKey", definition.getAnnotations());
        if (pk == null || pk.getElements().size() != 1) {
            throw new SiddhiAppCreationException("redis stand-in: table " + definition.getId()
                + " needs exactly one @PrimaryKey attribute");
        }
        primaryKey = pk.getElements().get(0).getValue();
    }

    private String key(Object pkValue) {
        return rowKey(table, pkValue);
    }

    /** The key of one row: `<table.name>:<primary key value>`. RedisQueryApi reads rows by it. */
    static String rowKey(String table, Object pkValue) {
        return table + ":" + pkValue;
    }

    private Map<String, String> row(Object[] record) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < attributes.size(); i++) {
            if (record[i] != null) {
                out.put(attributes.get(i).getName(), String.valueOf(record[i]));
            }
        }
        return out;
    }

    private Object keyValue(CompiledCondition condition, Map<String, Object> parameters) {
        KeyCondition c = (KeyCondition) condition;
        return c.parameter != null ? parameters.get(c.parameter) : c.constant;
    }

    @Override
    protected void add(List<Object[]> records) {
        int pk = indexOf(primaryKey);
        for (Object[] r : records) {
            redis.hset(key(r[pk]), row(r));
        }
    }

    private int indexOf(String name) {
        for (int i = 0; i < attributes.size(); i++) {
            if (attributes.get(i).getName().equals(name)) {
                return i;
            }
        }
        throw new IllegalArgumentException(name);
    }

    @Override
    protected RecordIterator<Object[]> find(Map<String, Object> parameters, CompiledCondition condition) {
        Map<String, String> hash = redis.hgetAll(key(keyValue(condition, parameters)));
        List<Object[]> rows = new ArrayList<>();
        if (!hash.isEmpty()) {
            Object[] row = new Object[attributes.size()];
            for (int i = 0; i < row.length; i++) {
                row[i] = parse(hash.get(attributes.get(i).getName()), attributes.get(i).getType());
            }
            rows.add(row);
        }
        Iterator<Object[]> it = rows.iterator();
        return new RecordIterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public Object[] next() {
                return it.next();
            }

            @Override
            public void close() {
            }
        };
    }

    private static Object parse(String v, Attribute.Type type) {
        if (v == null) {
            return null;
        }
        return switch (type) {
            case INT -> Integer.valueOf(v);
            case LONG -> Long.valueOf(v);
            case DOUBLE -> Double.valueOf(v);
            case FLOAT -> Float.valueOf(v);
            case BOOL -> Boolean.valueOf(v);
            default -> v;
        };
    }

    @Override
    protected boolean contains(Map<String, Object> parameters, CompiledCondition condition) {
        return redis.exists(key(keyValue(condition, parameters)));
    }

    @Override
    protected void delete(List<Map<String, Object>> parameters, CompiledCondition condition) {
        for (Map<String, Object> p : parameters) {
            redis.del(key(keyValue(condition, p)));
        }
    }

    private Map<String, String> setValues(Map<String, CompiledExpression> set, Map<String, Object> parameters) {
        Map<String, String> out = new HashMap<>();
        set.forEach((attribute, expr) -> {
            SetValue v = (SetValue) expr;
            Object value = v.parameter != null ? parameters.get(v.parameter) : v.constant;
            if (value != null) {
                out.put(attribute, String.valueOf(value));
            }
        });
        return out;
    }

    @Override
    protected void update(CompiledCondition condition, List<Map<String, Object>> conditionParameters,
                          Map<String, CompiledExpression> set, List<Map<String, Object>> setParameters) {
        for (int i = 0; i < conditionParameters.size(); i++) {
            String k = key(keyValue(condition, conditionParameters.get(i)));
            if (redis.exists(k)) {
                redis.hset(k, setValues(set, setParameters.get(i)));
            }
        }
    }

    @Override
    protected void updateOrAdd(CompiledCondition condition, List<Map<String, Object>> conditionParameters,
                               Map<String, CompiledExpression> set, List<Map<String, Object>> setParameters,
                               List<Object[]> adding) {
        for (int i = 0; i < conditionParameters.size(); i++) {
            String k = key(keyValue(condition, conditionParameters.get(i)));
            if (redis.exists(k)) {
                redis.hset(k, setValues(set, setParameters.get(i)));
            } else {
                redis.hset(k, row(adding.get(i)));
            }
        }
    }

    @Override
    protected CompiledCondition compileCondition(ExpressionBuilder builder) {
        KeyCondition c = new KeyCondition();
        builder.build(new BaseExpressionVisitor() {
            private String storeAttribute;

            private RuntimeException unsupported(String what) {
                return new SiddhiAppCreationException("redis stand-in: table " + table
                    + " supports only primary-key equality conditions, not " + what);
            }

            @Override
            public void beginVisitAnd() {
                throw unsupported("and");
            }

            @Override
            public void beginVisitOr() {
                throw unsupported("or");
            }

            @Override
            public void beginVisitNot() {
                throw unsupported("not");
            }

            @Override
            public void beginVisitCompare(Compare.Operator operator) {
                if (operator != Compare.Operator.EQUAL) {
                    throw unsupported(operator.toString());
                }
            }

            @Override
            public void beginVisitStoreVariable(String storeId, String attributeName, Attribute.Type type) {
                storeAttribute = attributeName;
                if (!attributeName.equals(primaryKey)) {
                    throw unsupported("a condition on " + attributeName);
                }
            }

            @Override
            public void beginVisitStreamVariable(String id, String streamId, String attributeName, Attribute.Type type) {
                c.parameter = id;
            }

            @Override
            public void beginVisitConstant(Object value, Attribute.Type type) {
                c.constant = value;
            }

            @Override
            public void beginVisitMath(MathOperator mathOperator) {
                throw unsupported("arithmetic");
            }
        });
        if (c.parameter == null && c.constant == null) {
            throw new SiddhiAppCreationException("redis stand-in: table " + table + ": no primary-key condition");
        }
        return c;
    }

    @Override
    protected CompiledExpression compileSetAttribute(ExpressionBuilder builder) {
        SetValue v = new SetValue();
        builder.build(new BaseExpressionVisitor() {
            @Override
            public void beginVisitStreamVariable(String id, String streamId, String attributeName, Attribute.Type type) {
                v.parameter = id;
            }

            @Override
            public void beginVisitConstant(Object value, Attribute.Type type) {
                v.constant = value;
            }

            @Override
            public void beginVisitMath(MathOperator mathOperator) {
                throw new SiddhiAppCreationException("redis stand-in: arithmetic in a set clause is not supported");
            }
        });
        return v;
    }

    @Override
    protected void connect() {
        redis = password == null || password.isEmpty() ? new JedisPooled(host, port)
            : new JedisPooled(host, port, null, password);
        redis.ping();
    }

    @Override
    protected void disconnect() {
        if (redis != null) {
            redis.close();
        }
    }

    @Override
    protected void destroy() {
    }
}
