// vers's setup of a real mongod, run by mongosh with `plan` defined before this text (see
// settings.rs): the replica set, indexes, then the databases (MongoDB creates a database with
// its first collection; one that gets none from `indexes` gets an empty `_vers` collection).
if (plan.replica_set) {
  let initiated = true;
  try {
    rs.status();
  } catch (e) {
    initiated = false;
  }
  if (!initiated) {
    rs.initiate({ _id: plan.replica_set.name, members: [{ _id: 0, host: plan.replica_set.host }] });
  }
  const deadline = Date.now() + 30000;
  while (!db.hello().isWritablePrimary) {
    if (Date.now() > deadline) {
      throw new Error("the replica set has no primary 30 s after rs.initiate");
    }
    sleep(200);
  }
}
for (const ix of plan.indexes) {
  db.getSiblingDB(ix.db).getCollection(ix.collection).createIndex(Object.fromEntries(ix.keys), ix.options);
  print(`index ${ix.db}.${ix.collection} ${JSON.stringify(ix.keys)}`);
}
for (const name of plan.databases) {
  const target = db.getSiblingDB(name);
  if (target.getCollectionNames().length === 0) {
    target.createCollection("_vers");
  }
  print(`database ${name}`);
}
