//! Settings by category and key. Secret values arrive encrypted and are never written
//! to the audit log.

use crate::entities::setting::{ActiveModel, Column, Entity};
use crate::{SqlStore, audit, db_err, to_db};
use async_trait::async_trait;
use broadnet_store::{Actor, Setting, SettingsRepo, StoreResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::{Map, Value};

fn shown(s: &Setting) -> Value {
    if s.secret { Value::from("(secret)") } else { Value::from(s.value.clone()) }
}

#[async_trait]
impl SettingsRepo for SqlStore {
    async fn get_settings(&self, category: &str) -> StoreResult<Vec<Setting>> {
        Ok(Entity::find()
            .filter(Column::Category.eq(category))
            .order_by_asc(Column::SettingKey)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|m| Setting { key: m.setting_key, value: m.value, secret: m.secret })
            .collect())
    }

    async fn put_settings(&self, actor: &Actor, category: &str, values: Vec<Setting>) -> StoreResult<()> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let mut before = Map::new();
        let mut after = Map::new();
        for s in values {
            let existing = Entity::find()
                .filter(Column::Category.eq(category))
                .filter(Column::SettingKey.eq(&s.key))
                .one(&txn)
                .await
                .map_err(db_err)?;
            after.insert(s.key.clone(), shown(&s));
            match existing {
                Some(m) => {
                    before.insert(
                        s.key.clone(),
                        shown(&Setting { key: m.setting_key.clone(), value: m.value.clone(), secret: m.secret }),
                    );
                    let mut am = m.into_active_model();
                    am.value = Set(s.value);
                    am.secret = Set(s.secret);
                    am.updated_at = Set(to_db(actor.at));
                    am.update(&txn).await.map_err(db_err)?;
                }
                None => {
                    ActiveModel {
                        category: Set(category.to_string()),
                        setting_key: Set(s.key),
                        value: Set(s.value),
                        secret: Set(s.secret),
                        updated_at: Set(to_db(actor.at)),
                        ..Default::default()
                    }
                    .insert(&txn)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        audit(
            &txn,
            actor,
            "settings.update",
            "settings",
            Some(category.to_string()),
            Some(Value::Object(before)),
            Some(Value::Object(after)),
        )
        .await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }
}
